// Find a community (小区) and ask to join it; property staff then verify the request.
import { useState, type FormEvent, type ReactNode } from "react";

import { http, query } from "../api/http";
import { useSession } from "../session";
import { resident } from "../strings";
import { Empty, Loading, Page, useAction, useLoad } from "../ui/kit";
import { type Community, type Page as Paged } from "./types";
import { ResidentError } from "./ResidentError";

export function CommunitiesPage(): ReactNode {
  const [text, setText] = useState("");
  const [q, setQ] = useState("");
  const [found, error] = useLoad(() => http.get<Paged<Community>>(`/communities${query({ q, limit: 30 })}`), [q]);
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    setQ(text.trim());
  };
  const t = resident.communities;
  return (
    <Page title={t.title}>
      <form role="search" className="row" onSubmit={submit}>
        <label className="sr-only" htmlFor="community-q">
          {t.search}
        </label>
        <input id="community-q" type="search" maxLength={50} value={text} placeholder={t.search} onChange={(e) => setText(e.target.value)} />
        <button type="submit" className="primary">
          {t.searchButton}
        </button>
      </form>
      <ResidentError error={error} />
      {found === undefined && !error ? <Loading /> : null}
      {found && found.items.length === 0 ? <Empty>{t.none}</Empty> : null}
      <ul className="list">
        {found?.items.map((c) => <CommunityRow key={c.id} community={c} />)}
      </ul>
    </Page>
  );
}

function CommunityRow({ community }: { community: Community }): ReactNode {
  const { communities, reload } = useSession();
  const mine = communities.find((c) => c.id === community.id);
  const [open, setOpen] = useState(false);
  const [unit, setUnit] = useState("");
  const [note, setNote] = useState("");
  const t = resident.communities;
  const [join, joining, joinError] = useAction(async () => {
    await http.post(`/communities/${community.id}/join-requests`, { unit: unit.trim() || null, note: note.trim() || null });
    setOpen(false);
    await reload();
  });
  const [leave, leaving, leaveError] = useAction(async () => {
    if (!window.confirm(t.leaveConfirm(community.name))) return;
    await http.delete(`/communities/${community.id}/members/me`);
    await reload();
  });
  const unitId = `unit-${community.id}`;
  const noteId = `note-${community.id}`;
  return (
    <li className="card community-row">
      <div className="grow">
        <strong>{community.name}</strong>
        <div className="muted small">{community.address}</div>
      </div>
      {mine ? (
        <>
          <span className={`badge ${mine.status}`}>{resident.me.verification[mine.status] ?? mine.status}</span>
          {mine.role === "resident" ? (
            <button type="button" className="link" disabled={leaving} onClick={() => void leave()}>
              {mine.status === "pending" ? t.withdraw : t.leave}
            </button>
          ) : null}
        </>
      ) : (
        <button type="button" className="secondary" aria-expanded={open} onClick={() => setOpen(!open)}>
          {t.join}
        </button>
      )}
      {open && !mine ? (
        <form
          className="form wide"
          onSubmit={(e) => {
            e.preventDefault();
            void join();
          }}
        >
          <label htmlFor={unitId}>
            {t.unit}
            <input id={unitId} maxLength={50} value={unit} onChange={(e) => setUnit(e.target.value)} />
          </label>
          <label htmlFor={noteId}>
            {t.note}
            <input id={noteId} maxLength={200} value={note} onChange={(e) => setNote(e.target.value)} />
          </label>
          <button type="submit" className="primary" disabled={joining}>
            {t.submitJoin}
          </button>
        </form>
      ) : null}
      <ResidentError error={joinError ?? leaveError} />
    </li>
  );
}
