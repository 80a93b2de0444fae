// 社区活动 in the console (desktop): property staff of the chosen community list its events and
// create new ones; each event's page edits it, publishes, cancels or finishes it, lists the
// registrations, attaches live streams, draws and group buys, and opens the check-in scanner.
import { useState, type FormEvent, type ReactNode } from "react";
import { Link, useParams } from "react-router";

import { http } from "../api/http";
import { ReasonDialog, useStaffCommunity } from "../console/shared";
import { events as t } from "../strings";
import { Empty, Loading, Page, useAction, useLoad } from "../ui/kit";
import { EventError } from "./parts";
import { type CommunityEvent, type EventDetail, type EventLink, type Registration } from "./types";
import "./events.css";

const c = t.console;

/** An ISO instant as the value of a datetime-local input (the browser's own time zone). */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(value: string): string | undefined {
  return value ? new Date(value).toISOString() : undefined;
}

interface FormValues {
  title: string;
  place: string;
  programme: string;
  starts_at: string;
  ends_at: string;
  capacity: string;
  signup_opens_at: string;
  signup_closes_at: string;
  publish: boolean;
}

const EMPTY: FormValues = {
  title: "",
  place: "",
  programme: "",
  starts_at: "",
  ends_at: "",
  capacity: "30",
  signup_opens_at: "",
  signup_closes_at: "",
  publish: true,
};

function valuesOf(e: CommunityEvent): FormValues {
  return {
    title: e.title,
    place: e.place,
    programme: e.programme,
    starts_at: toLocalInput(e.starts_at),
    ends_at: toLocalInput(e.ends_at),
    capacity: String(e.capacity),
    signup_opens_at: toLocalInput(e.signup_opens_at),
    signup_closes_at: toLocalInput(e.signup_closes_at),
    publish: e.status !== "draft",
  };
}

function bodyOf(v: FormValues, creating: boolean, only?: string[]): Record<string, unknown> {
  const body: Record<string, unknown> = {
    title: v.title,
    place: v.place,
    programme: v.programme,
    starts_at: fromLocalInput(v.starts_at),
    ends_at: fromLocalInput(v.ends_at),
    capacity: Number(v.capacity),
    signup_opens_at: fromLocalInput(v.signup_opens_at),
    signup_closes_at: fromLocalInput(v.signup_closes_at),
  };
  if (creating) body.publish = v.publish;
  return Object.fromEntries(Object.entries(body).filter(([name, value]) => value !== undefined && (!only || only.includes(name))));
}

function EventForm({
  initial,
  creating,
  onSubmit,
}: {
  initial: FormValues;
  creating: boolean;
  onSubmit: (body: Record<string, unknown>) => Promise<unknown>;
}): ReactNode {
  const [v, setV] = useState<FormValues>(initial);
  const [notice, setNotice] = useState("");
  const [submit, busy, error] = useAction(async () => {
    setNotice("");
    // An edit sends only what changed: an unchanged start of an event under way (shown to the
    // minute) would otherwise read as a new start in the past.
    const changed = creating ? v : (Object.fromEntries(Object.entries(v).filter(([k, value]) => initial[k as keyof FormValues] !== value)) as Partial<FormValues>);
    await onSubmit(bodyOf({ ...EMPTY, ...changed }, creating, creating ? undefined : Object.keys(changed)));
    setNotice(creating ? c.created : c.saved);
    if (creating) setV(EMPTY);
  });
  const set = (name: keyof FormValues) => (e: { target: { value: string } }) => setV({ ...v, [name]: e.target.value });
  const handle = (e: FormEvent): void => {
    e.preventDefault();
    void submit();
  };
  return (
    <form className="card form" onSubmit={handle} aria-label={creating ? c.create : c.edit}>
      <div className="event-form">
        <label className="wide">
          {c.fields.title}
          <input value={v.title} required maxLength={100} onChange={set("title")} />
        </label>
        <label className="wide">
          {c.fields.place}
          <input value={v.place} required maxLength={200} onChange={set("place")} />
        </label>
        <label className="wide">
          {c.fields.programme}
          <textarea value={v.programme} rows={4} maxLength={4000} onChange={set("programme")} />
        </label>
        <label>
          {c.fields.startsAt}
          <input type="datetime-local" value={v.starts_at} required onChange={set("starts_at")} />
        </label>
        <label>
          {c.fields.endsAt}
          <input type="datetime-local" value={v.ends_at} required onChange={set("ends_at")} />
        </label>
        <label>
          {c.fields.capacity}
          <input type="number" min={1} max={10000} value={v.capacity} required onChange={set("capacity")} />
        </label>
        <span />
        <label>
          {c.fields.opensAt}
          <input type="datetime-local" value={v.signup_opens_at} onChange={set("signup_opens_at")} />
        </label>
        <label>
          {c.fields.closesAt}
          <input type="datetime-local" value={v.signup_closes_at} onChange={set("signup_closes_at")} />
        </label>
        {creating ? (
          <label className="check wide">
            <input type="checkbox" checked={v.publish} onChange={(e) => setV({ ...v, publish: e.target.checked })} />
            {c.fields.publish}
          </label>
        ) : null}
      </div>
      <EventError error={error} />
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          {creating ? c.create : c.save}
        </button>
      </div>
    </form>
  );
}

export function ConsoleEventsPage(): ReactNode {
  const [community, picker] = useStaffCommunity();
  const [list, error, reload] = useLoad(
    () => (community ? http.get<{ items: CommunityEvent[] }>(`/communities/${community.id}/events`) : Promise.resolve({ items: [] })),
    [community?.id],
  );
  return (
    <Page title={c.title} actions={picker}>
      <EventError error={error} />
      {community ? (
        <EventForm
          initial={EMPTY}
          creating
          onSubmit={async (body) => {
            await http.post(`/communities/${community.id}/events`, body);
            reload();
          }}
        />
      ) : null}
      {!list && !error ? <Loading /> : null}
      {list && list.items.length === 0 ? <Empty /> : null}
      {list && list.items.length > 0 ? (
        <table className="event-table" aria-label={c.title}>
          <thead>
            <tr>
              <th scope="col">{c.fields.title}</th>
              <th scope="col">{t.time}</th>
              <th scope="col">{c.columns.status}</th>
              <th scope="col">{t.capacity}</th>
              <th scope="col">
                <span className="sr-only">{c.open}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((e) => (
              <tr key={e.id}>
                <td>{e.title}</td>
                <td>{t.span(e.starts_at, e.ends_at)}</td>
                <td>
                  <span className={`badge ${e.status}`}>{t.status[e.status]}</span>
                </td>
                <td>{c.counts(e.confirmed_count, e.capacity, e.waitlist_count, e.checked_in_count)}</td>
                <td>
                  <Link to={`/console/events/${e.id}`} aria-label={`${c.open}：${e.title}`}>
                    {c.open}
                  </Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Page>
  );
}

export function ConsoleEventPage(): ReactNode {
  const { id = "" } = useParams();
  const [detail, error, reload] = useLoad(() => http.get<EventDetail>(`/events/${id}`), [id]);
  const [regs, regsError, reloadRegs] = useLoad(() => http.get<{ items: Registration[] }>(`/events/${id}/registrations`), [id]);
  const [cancelling, setCancelling] = useState(false);
  const refresh = (): void => {
    reload();
    reloadRegs();
  };
  const [act, acting, actError] = useAction(async (path: string) => {
    await http.post(`/events/${id}/${path}`);
    refresh();
  });
  if (error) {
    return (
      <Page title={c.title}>
        <EventError error={error} />
      </Page>
    );
  }
  if (!detail) return <Loading />;
  const e = detail.event;
  const open = e.status === "draft" || e.status === "published";
  return (
    <Page
      title={e.title}
      actions={
        <>
          <Link to="/console/events">{c.back}</Link>
          {e.status === "published" || e.status === "finished" ? <Link to={`/console/events/${e.id}/check-in`}>{c.checkInPage}</Link> : null}
        </>
      }
    >
      <section className="card">
        <p>
          <span className={`badge ${e.status}`}>{t.status[e.status]}</span> {c.counts(e.confirmed_count, e.capacity, e.waitlist_count, e.checked_in_count)}
        </p>
        {e.status === "cancelled" ? <p className="error">{t.cancelledNote(e.cancel_reason)}</p> : null}
        <div className="row">
          {e.status === "draft" ? (
            <button type="button" className="primary" disabled={acting} onClick={() => void act("publish")}>
              {c.publish}
            </button>
          ) : null}
          {e.status === "published" ? (
            <button type="button" disabled={acting} onClick={() => void act("finish")}>
              {c.finish}
            </button>
          ) : null}
          {open ? (
            <button type="button" className="danger" onClick={() => setCancelling(true)}>
              {c.cancelEvent}
            </button>
          ) : null}
        </div>
        <EventError error={actError} />
      </section>
      {open ? (
        <EventForm
          key={e.updated_at}
          initial={valuesOf(e)}
          creating={false}
          onSubmit={async (body) => {
            await http.patch(`/events/${e.id}`, body);
            refresh();
          }}
        />
      ) : null}
      <Links detail={detail} onChange={reload} />
      <section className="card" aria-labelledby="event-registrations">
        <h2 id="event-registrations">{c.registrations}</h2>
        <EventError error={regsError} />
        {regs && regs.items.length === 0 ? <Empty>{c.noRegistrations}</Empty> : null}
        {regs && regs.items.length > 0 ? (
          <table className="event-table">
            <thead>
              <tr>
                <th scope="col">{c.columns.name}</th>
                <th scope="col">{c.columns.status}</th>
                <th scope="col">{c.columns.position}</th>
                <th scope="col">{c.columns.at}</th>
                <th scope="col">{c.columns.checkedIn}</th>
              </tr>
            </thead>
            <tbody>
              {regs.items.map((r) => (
                <tr key={r.id}>
                  <td>{r.display_name}</td>
                  <td>
                    <span className={`badge ${r.status}`}>{t.mine[r.status]}</span>
                    {r.priority ? <span className="tag">{t.priority}</span> : null}
                  </td>
                  <td>{r.waitlist_position ?? ""}</td>
                  <td>{t.when(r.created_at)}</td>
                  <td>{r.checked_in_at ? `${t.checkedIn} ${t.when(r.checked_in_at)}` : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
      {cancelling ? (
        <ReasonDialog
          title={c.cancelTitle}
          reasonLabel={c.cancelReason}
          confirmLabel={c.cancelConfirm}
          onConfirm={async (reason) => {
            await http.post(`/events/${e.id}/cancel`, { reason });
            refresh();
          }}
          onClose={() => setCancelling(false)}
        />
      ) : null}
    </Page>
  );
}

interface Candidate {
  id: string;
  label: string;
}

async function candidates(kind: EventLink["kind"], communityId: string): Promise<Candidate[]> {
  if (kind === "live") {
    const rows = await http.get<Array<{ id: string; title: string; starts_at: string }>>(`/communities/${communityId}/live/announcements`);
    return rows.map((r) => ({ id: r.id, label: `${r.title} · ${t.when(r.starts_at)}` }));
  }
  if (kind === "draw") {
    const rows = await http.get<Array<{ id: string; prize: string; draw_at: string }>>(`/communities/${communityId}/lottery/draws`);
    return rows.map((r) => ({ id: r.id, label: `${r.prize} · ${t.when(r.draw_at)}` }));
  }
  const page = await http.get<{ items: Array<{ id: string; title: string; expires_at: string }> }>(`/communities/${communityId}/group-buys?limit=100`);
  return page.items.map((r) => ({ id: r.id, label: `${r.title} · ${t.when(r.expires_at)}` }));
}

function Links({ detail, onChange }: { detail: EventDetail; onChange: () => void }): ReactNode {
  const e = detail.event;
  const [kind, setKind] = useState<EventLink["kind"]>("live");
  const [target, setTarget] = useState("");
  const [options, optionsError] = useLoad(() => candidates(kind, e.community_id), [kind, e.community_id]);
  const [add, adding, addError] = useAction(async () => {
    const chosen = target || options?.[0]?.id;
    if (!chosen) return;
    await http.post(`/events/${e.id}/links`, { kind, target_id: chosen });
    setTarget("");
    onChange();
  });
  const [remove, removing, removeError] = useAction(async (link: EventLink) => {
    await http.delete(`/events/${e.id}/links/${link.kind}/${link.target_id}`);
    onChange();
  });
  return (
    <section className="card" aria-labelledby="event-links-admin">
      <h2 id="event-links-admin">{c.links}</h2>
      <ul className="event-links">
        {detail.links.map((l) => (
          <li key={`${l.kind}:${l.target_id}`} className="row">
            <span className="tag">{t.linkKinds[l.kind]}</span>
            <span>{l.title ?? t.untitled}</span>
            <button type="button" className="link" disabled={removing} onClick={() => void remove(l)} aria-label={c.linkRemove(l.title ?? t.untitled)}>
              ✕
            </button>
          </li>
        ))}
      </ul>
      <div className="row">
        <label>
          {c.linkKind}
          <select value={kind} onChange={(ev) => setKind(ev.target.value as EventLink["kind"])}>
            {(["live", "draw", "group_buy"] as const).map((k) => (
              <option key={k} value={k}>
                {t.linkKinds[k]}
              </option>
            ))}
          </select>
        </label>
        <label>
          {c.linkTarget}
          <select value={target} onChange={(ev) => setTarget(ev.target.value)} disabled={!options || options.length === 0}>
            {(options ?? []).map((o) => (
              <option key={o.id} value={o.id}>
                {o.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" disabled={adding || !options || options.length === 0} onClick={() => void add()}>
          {c.linkAdd}
        </button>
      </div>
      {options && options.length === 0 ? <p className="muted">{c.noCandidates}</p> : null}
      <EventError error={optionsError ?? addError ?? removeError} />
    </section>
  );
}
