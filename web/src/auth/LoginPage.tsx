// Sign-up and log-in with an SMS code (the usual way for residents), or a password.
import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";

import { http } from "../api/http";
import { useSession } from "../session";
import { auth, common, points } from "../strings";
import { ErrorNote, useAction } from "../ui/kit";

const PHONE = /^\+?\d{5,20}$/;

function useCountdown(): [number, () => void] {
  const [left, setLeft] = useState(0);
  useEffect(() => {
    if (left <= 0) return;
    const timer = window.setTimeout(() => setLeft(left - 1), 1_000);
    return () => window.clearTimeout(timer);
  }, [left]);
  return [left, () => setLeft(60)];
}

export function LoginPage({ mode }: { mode: "login" | "signup" }): ReactNode {
  const { reload } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [phone, setPhone] = useState("");
  const [code, setCode] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  // A shared link may carry a neighbour's invitation code (?invite=…); typing one is optional.
  const [invite, setInvite] = useState(() => params.get("invite") ?? "");
  const [withPassword, setWithPassword] = useState(false);
  const [left, startCountdown] = useCountdown();
  const [notice, setNotice] = useState("");

  const [sendCode, sending, codeError] = useAction(async () => {
    await http.post("/auth/codes", { phone, purpose: mode === "signup" ? "signup" : "login" });
    startCountdown();
    setNotice(auth.codeSent);
  });

  const [submit, submitting, submitError] = useAction(async () => {
    if (mode === "signup") {
      const inviteCode = invite.trim().toUpperCase();
      await http.post("/auth/signup", { phone, code, password, display_name: name, ...(inviteCode ? { invite_code: inviteCode } : {}) });
    } else if (withPassword) {
      await http.post("/auth/login", { phone, password });
    } else {
      await http.post("/auth/login", { phone, code });
    }
    await reload();
    const next = params.get("next");
    navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/", { replace: true });
  });

  const onSubmit = (event: FormEvent): void => {
    event.preventDefault();
    void submit();
  };
  const phoneOk = PHONE.test(phone);
  const needsCode = mode === "signup" || !withPassword;

  return (
    <main className="auth">
      <h1 className="brand">{common.appName}</h1>
      <p className="muted">{common.tagline}</p>
      <form onSubmit={onSubmit} className="card form" aria-label={mode === "signup" ? auth.signupTitle : auth.loginTitle}>
        <h2>{mode === "signup" ? auth.signupTitle : auth.loginTitle}</h2>
        <label>
          {auth.phone}
          <input
            name="phone"
            inputMode="tel"
            autoComplete="tel"
            placeholder={auth.phonePlaceholder}
            value={phone}
            onChange={(e) => setPhone(e.target.value.trim())}
            required
          />
        </label>
        {needsCode ? (
          <label>
            {auth.code}
            <span className="row">
              <input
                name="code"
                inputMode="numeric"
                autoComplete="one-time-code"
                pattern="\d{6}"
                maxLength={6}
                placeholder={auth.codePlaceholder}
                value={code}
                onChange={(e) => setCode(e.target.value.replace(/\D/g, ""))}
                required
              />
              <button type="button" className="secondary" disabled={!phoneOk || left > 0 || sending} onClick={() => void sendCode()}>
                {left > 0 ? auth.resendIn(left) : auth.sendCode}
              </button>
            </span>
          </label>
        ) : null}
        {mode === "signup" ? (
          <label>
            {auth.displayName}
            <input name="display_name" maxLength={40} value={name} onChange={(e) => setName(e.target.value)} required />
          </label>
        ) : null}
        {mode === "signup" ? (
          <label>
            {points.inviteCode}
            <input name="invite_code" maxLength={8} autoComplete="off" value={invite} onChange={(e) => setInvite(e.target.value)} />
          </label>
        ) : null}
        {mode === "signup" || withPassword ? (
          <label>
            {auth.password}
            <input
              name="password"
              type="password"
              autoComplete={mode === "signup" ? "new-password" : "current-password"}
              minLength={mode === "signup" ? 8 : 1}
              placeholder={mode === "signup" ? auth.passwordHint : ""}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              required
            />
          </label>
        ) : null}
        {notice ? <p className="notice" role="status">{notice}</p> : null}
        <ErrorNote error={codeError || submitError} />
        <button type="submit" className="primary" disabled={submitting}>
          {mode === "signup" ? auth.signup : auth.login}
        </button>
        {mode === "login" ? (
          <button type="button" className="link" onClick={() => setWithPassword(!withPassword)}>
            {withPassword ? auth.withCode : auth.withPassword}
          </button>
        ) : null}
        <Link to={mode === "signup" ? "/login" : "/signup"}>{mode === "signup" ? auth.toLogin : auth.toSignup}</Link>
      </form>
    </main>
  );
}
