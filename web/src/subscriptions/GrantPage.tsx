// Console: the platform pays a seller's first month of a virtual-number plan (admins only; a
// platform expense in the ledger, docs/subscriptions.md).
import { useState, type ReactNode } from "react";

import { http } from "../api/http";
import { resident, subscriptions } from "../strings";
import { ErrorNote, Loading, Page, useAction, useLoad } from "../ui/kit";
import { plans, type Subscription } from "./api";
import { SubsError } from "./SubsError";

const t = subscriptions.console;

export default function GrantPage(): ReactNode {
  const [catalogue, error] = useLoad(plans, []);
  const [phone, setPhone] = useState("");
  const [plan, setPlan] = useState("vn_basic");
  const [granted, setGranted] = useState<Subscription | null>(null);
  const [grant, busy, grantError] = useAction(async () => {
    setGranted(await http.post<Subscription>("/subscriptions/grants", { phone: phone.trim(), plan }));
  });
  if (error) return <Page title={t.title}><ErrorNote error={error} /></Page>;
  if (!catalogue) return <Loading />;
  return (
    <Page title={t.title}>
      <p className="muted">{t.intro}</p>
      <form
        className="card form"
        aria-label={t.title}
        onSubmit={(e) => {
          e.preventDefault();
          void grant();
        }}
      >
        <label htmlFor="grant-phone">
          {t.phone}
          <input id="grant-phone" type="tel" required value={phone} onChange={(e) => setPhone(e.target.value)} />
        </label>
        <label htmlFor="grant-plan">
          {t.plan}
          <select id="grant-plan" value={plan} onChange={(e) => setPlan(e.target.value)}>
            {catalogue
              .filter((p) => p.kind === "virtual_number")
              .map((p) => (
                <option key={p.code} value={p.code}>
                  {p.name}
                </option>
              ))}
          </select>
        </label>
        <button type="submit" className="primary" disabled={busy || !phone.trim()}>
          {t.submit}
        </button>
        <SubsError error={grantError} />
      </form>
      {granted ? (
        <p className="card" role="status">
          {t.done(granted.plan_name ?? granted.plan_code, resident.time(granted.access_until))}
        </p>
      ) : null}
    </Page>
  );
}
