// The console's platform announcements (admins): the form (everyone, one community's residents,
// or one role) and what was sent, with how many it has reached so far (the fan-out is a job).
import { useState, type FormEvent, type ReactNode } from "react";

import { ApiError, http, query } from "../api/http";
import { notifications as strings } from "../strings";
import { Empty, ErrorNote, Loading, Page, useLoad } from "../ui/kit";
import "./notifications.css";

const t = strings.announce;
type AudienceKind = "all" | "community" | "role";

interface Announcement {
  id: string;
  title: string;
  body: string;
  audience: AudienceKind;
  community_id: string | null;
  role: string | null;
  status: string;
  recipients: number;
  created_at: string;
}

interface CommunityOption {
  id: string;
  name: string;
}

function Problem({ error }: { error: unknown }): ReactNode {
  if (error instanceof ApiError && error.code in strings.errors) {
    return (
      <p className="error" role="alert">
        {strings.errors[error.code]}
      </p>
    );
  }
  return <ErrorNote error={error} />;
}

export default function AnnouncementsPage(): ReactNode {
  const [history, historyError, reload] = useLoad(
    () => http.get<{ items: Announcement[] }>(`/announcements${query({ limit: 20 })}`),
    [],
  );
  const [communities] = useLoad(
    () => http.get<{ items: CommunityOption[] }>(`/communities${query({ limit: 50 })}`),
    [],
  );
  const [title, setTitle] = useState("");
  const [body, setBody] = useState("");
  const [kind, setKind] = useState<AudienceKind>("all");
  const [community, setCommunity] = useState("");
  const [role, setRole] = useState("resident");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setDone(null);
    const audience =
      kind === "all" ? { all: true } : kind === "community" ? { community_id: community || undefined } : { role };
    try {
      const made = await http.post<Announcement>("/announcements", { title, body, audience });
      setDone(t.sent(made.title));
      setTitle("");
      setBody("");
      reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const audienceText = (a: Announcement): string => {
    if (a.audience === "community") {
      const name = communities?.items.find((c) => c.id === a.community_id)?.name;
      return `${t.audiences.community}${name ? `：${name}` : ""}`;
    }
    if (a.audience === "role") return `${t.audiences.role}：${t.roles[a.role ?? ""] ?? a.role}`;
    return t.audiences.all;
  };

  return (
    <Page title={t.title}>
      <form className="announce-form" onSubmit={(e) => void submit(e)}>
        <label>
          {t.heading}
          <input value={title} onChange={(e) => setTitle(e.target.value)} maxLength={100} required />
        </label>
        <label>
          {t.body}
          <textarea value={body} onChange={(e) => setBody(e.target.value)} maxLength={2000} rows={4} required />
        </label>
        <fieldset>
          <legend>{t.audience}</legend>
          {(["all", "community", "role"] as const).map((k) => (
            <label key={k}>
              <input type="radio" name="audience" value={k} checked={kind === k} onChange={() => setKind(k)} />
              {t.audiences[k]}
            </label>
          ))}
        </fieldset>
        {kind === "community" ? (
          <label>
            {t.community}
            <select value={community} onChange={(e) => setCommunity(e.target.value)} required>
              <option value="">{t.chooseCommunity}</option>
              {communities?.items.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        {kind === "role" ? (
          <label>
            {t.role}
            <select value={role} onChange={(e) => setRole(e.target.value)}>
              {Object.entries(t.roles).map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <Problem error={error} />
        {done ? <p role="status">{done}</p> : null}
        <div>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? t.sending : t.send}
          </button>
        </div>
      </form>
      <section className="announcement-history" aria-labelledby="announcement-history">
        <h2 id="announcement-history">{t.history}</h2>
        <Problem error={historyError} />
        {!history ? (
          historyError ? null : <Loading />
        ) : history.items.length === 0 ? (
          <Empty>{t.none}</Empty>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{t.columns.title}</th>
                <th scope="col">{t.columns.audience}</th>
                <th scope="col">{t.columns.status}</th>
                <th scope="col">{t.columns.recipients}</th>
              </tr>
            </thead>
            <tbody>
              {history.items.map((a) => (
                <tr key={a.id}>
                  <td>{a.title}</td>
                  <td>{audienceText(a)}</td>
                  <td>{t.status[a.status] ?? a.status}</td>
                  <td>{t.recipients(a.recipients)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </Page>
  );
}
