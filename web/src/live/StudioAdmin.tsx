// The studio's bookkeeping over REST: stream announcements (活动预告) and the residents granted
// the right to go live here (staff and admins; others see the API's refusal).
import { useState, type FormEvent, type ReactNode } from "react";

import { http, query } from "../api/http";
import { type Page as Paged } from "../resident/types";
import { live } from "../strings";
import { Empty, ErrorNote, Loading, useAction, useLoad } from "../ui/kit";
import { type Announcement, when } from "./announcements";
import { LiveError } from "./errors";

const text = live.console;

function localInputValue(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function Announcements({ communityId }: { communityId: string }): ReactNode {
  const [list, listError, reload] = useLoad(() => http.get<Announcement[]>(`/communities/${communityId}/live/announcements`), [communityId]);
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [startsAt, setStartsAt] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [create, creating, createError] = useAction(async () => {
    const start = startsAt ? new Date(startsAt) : null;
    const horizon = Date.now() + 90 * 24 * 3600 * 1000;
    if (!title.trim()) return setProblem(text.titleRequired);
    if (!start || Number.isNaN(start.getTime()) || start.getTime() < Date.now() || start.getTime() > horizon) {
      return setProblem(text.announcements.startsAtRequired);
    }
    setProblem(null);
    await http.post(`/communities/${communityId}/live/announcements`, { title: title.trim(), description: description.trim(), starts_at: start.toISOString() });
    setTitle("");
    setDescription("");
    setStartsAt("");
    reload();
  });
  const [cancel, cancelling, cancelError] = useAction(async (id: string) => {
    if (!window.confirm(text.announcements.confirmCancel)) return;
    await http.post(`/live/announcements/${id}/cancel`);
    reload();
  });
  return (
    <section className="card" aria-labelledby="studio-announcements-title">
      <h2 id="studio-announcements-title">{text.announcements.title}</h2>
      <form
        className="form"
        noValidate
        onSubmit={(event: FormEvent) => {
          event.preventDefault();
          void create();
        }}
      >
        <label htmlFor="announcement-title">{text.announcements.heading}</label>
        <input id="announcement-title" value={title} maxLength={100} onChange={(event) => setTitle(event.target.value)} />
        <label htmlFor="announcement-description">{text.announcements.description}</label>
        <textarea id="announcement-description" value={description} maxLength={2000} rows={2} onChange={(event) => setDescription(event.target.value)} />
        <label htmlFor="announcement-starts">{text.announcements.startsAt}</label>
        <input id="announcement-starts" type="datetime-local" value={startsAt} min={localInputValue(new Date())} onChange={(event) => setStartsAt(event.target.value)} />
        {problem ? (
          <p className="error" role="alert">
            {problem}
          </p>
        ) : null}
        <LiveError error={createError} />
        <button type="submit" className="primary" disabled={creating}>
          {creating ? text.announcements.creating : text.announcements.create}
        </button>
      </form>
      <ErrorNote error={listError} />
      <LiveError error={cancelError} />
      {list === undefined && !listError ? <Loading /> : null}
      {list && list.length === 0 ? <Empty>{text.announcements.none}</Empty> : null}
      <ul className="list">
        {list?.map((a) => (
          <li key={a.id} className="row announcement">
            <span>
              <strong>{a.title}</strong> <time dateTime={a.starts_at}>{when(a.starts_at)}</time>
            </span>
            {a.cancelled_at ? (
              <span className="badge">{text.announcements.cancelled}</span>
            ) : (
              <button type="button" className="danger" disabled={cancelling} onClick={() => void cancel(a.id)}>
                {text.announcements.cancel}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

interface Grant {
  user_id: string;
  display_name: string;
  granted_at: string;
}

interface Member {
  user_id: string;
  display_name: string;
  role: string;
  status: string;
}

export function Grants({ communityId }: { communityId: string }): ReactNode {
  const [grants, grantsError, reload] = useLoad(() => http.get<Grant[]>(`/communities/${communityId}/live/grants`), [communityId]);
  const [members] = useLoad(
    () => http.get<Paged<Member>>(`/communities/${communityId}/members${query({ status: "verified", limit: 100 })}`).then((p) => p.items),
    [communityId],
  );
  const [chosen, setChosen] = useState("");
  const granted = new Set((grants ?? []).map((g) => g.user_id));
  const residents = (members ?? []).filter((m) => m.role === "resident" && !granted.has(m.user_id));
  const [grant, granting, grantError] = useAction(async () => {
    if (!chosen) return;
    await http.post(`/communities/${communityId}/live/grants`, { user_id: chosen });
    setChosen("");
    reload();
  });
  const [revoke, revoking, revokeError] = useAction(async (g: Grant) => {
    if (!window.confirm(text.grants.confirmRevoke(g.display_name))) return;
    await http.delete(`/communities/${communityId}/live/grants/${g.user_id}`);
    reload();
  });
  return (
    <section className="card" aria-labelledby="studio-grants-title">
      <h2 id="studio-grants-title">{text.grants.title}</h2>
      <p className="muted">{text.grants.hint}</p>
      {/* Staff and admins manage grants; a merchant or granted host sees the API's refusal. */}
      <ErrorNote error={grantsError} />
      {grants === undefined && !grantsError ? <Loading /> : null}
      {grants && grants.length === 0 ? <Empty>{text.grants.none}</Empty> : null}
      <ul className="list">
        {grants?.map((g) => (
          <li key={g.user_id} className="row announcement">
            <span>
              {g.display_name} <span className="muted">{text.grants.grantedAt(when(g.granted_at))}</span>
            </span>
            <button type="button" className="danger" disabled={revoking} onClick={() => void revoke(g)}>
              {text.grants.revoke}
            </button>
          </li>
        ))}
      </ul>
      <LiveError error={revokeError} />
      {grants ? (
        <form
          className="row"
          onSubmit={(event: FormEvent) => {
            event.preventDefault();
            void grant();
          }}
        >
          <label className="visually-hidden" htmlFor="grant-resident">
            {text.grants.resident}
          </label>
          <select id="grant-resident" value={chosen} onChange={(event) => setChosen(event.target.value)}>
            <option value="">{text.grants.choose}</option>
            {residents.map((m) => (
              <option key={m.user_id} value={m.user_id}>
                {m.display_name}
              </option>
            ))}
          </select>
          <button type="submit" disabled={!chosen || granting}>
            {granting ? text.grants.granting : text.grants.grant}
          </button>
        </form>
      ) : null}
      <LiveError error={grantError} />
    </section>
  );
}
