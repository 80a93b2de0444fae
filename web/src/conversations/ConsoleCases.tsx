// Customer service's 私信举报与求助: reported and escalated conversations only (the API shows no
// other), the thread read-only, and closing a case.
import { useEffect, useState, type ReactNode } from "react";

import { realtime } from "../api/realtime";

import { conversations as t, resident } from "../strings";
import { Empty, Loading, Page, useAction, useLoad } from "../ui/kit";
import { CONVERSATION_CASE, conversationsApi, type Case } from "./api";
import { ConversationView, ConvError } from "./ConversationView";
import "./conversations.css";

const c = t.console;
const STATUSES = ["open", "resolved", "dismissed"] as const;

export default function ConsoleCasesPage(): ReactNode {
  const [status, setStatus] = useState<(typeof STATUSES)[number]>("open");
  const [cases, error, reload] = useLoad(() => conversationsApi.cases(status), [status]);
  const [open, setOpen] = useState<Case | null>(null);
  // New cases arrive on the agents' /support room; the list is re-read (and on every reconnect).
  useEffect(() => {
    const rt = realtime("/support");
    const stops: Array<() => void> = [];
    let live = true;
    void (async () => {
      stops.push(await rt.on(CONVERSATION_CASE, reload));
      stops.push(await rt.onConnect(reload));
      if (!live) stops.forEach((stop) => stop());
    })().catch(() => undefined);
    return () => {
      live = false;
      stops.forEach((stop) => stop());
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [status]);
  return (
    <Page title={c.title}>
      <label htmlFor="case-status" className="conv-filter">
        {c.filter}
        <select id="case-status" value={status} onChange={(e) => setStatus(e.target.value as (typeof STATUSES)[number])}>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {c.statuses[s]}
            </option>
          ))}
        </select>
      </label>
      <div className="conv-split">
        <section aria-label={c.title}>
          <ConvError error={error} />
          {!cases ? (
            error ? null : <Loading />
          ) : cases.items.length === 0 ? (
            <Empty>{c.empty}</Empty>
          ) : (
            <ul className="conv-list">
              {cases.items.map((k) => (
                <li key={k.id} className={`card conv-case${open?.id === k.id ? " current" : ""}`}>
                  <p>
                    <span className="conv-tag">{c.kinds[k.kind]}</span> <strong>{k.listing_title}</strong>
                  </p>
                  <p className="conv-small">
                    {t.withBuyer(k.buyer_name)} · {t.withSeller(k.seller_name)}
                  </p>
                  <p>{c.openedBy(k.side === "buyer" ? t.buyer : t.seller, k.reason)}</p>
                  {k.seq ? <p className="muted conv-small">{c.message(k.seq)}</p> : null}
                  <p className="muted conv-small">
                    <time dateTime={k.created_at}>{resident.time(k.created_at)}</time> · {c.statuses[k.status]}
                  </p>
                  <button type="button" className="secondary" onClick={() => setOpen(k)} aria-label={`${c.view}：${k.listing_title}`}>
                    {c.view}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>
        <div>
          {open ? (
            <>
              {open.status === "open" ? <CloseCase key={open.id} kase={open} onClosed={() => { setOpen(null); reload(); }} /> : null}
              <ConversationView key={open.conversation_id} id={open.conversation_id} readOnly />
            </>
          ) : (
            <p className="muted">{c.pick}</p>
          )}
        </div>
      </div>
    </Page>
  );
}

function CloseCase({ kase, onClosed }: { kase: Case; onClosed: () => void }): ReactNode {
  const [note, setNote] = useState("");
  const [close, busy, error] = useAction(async (status: "resolved" | "dismissed") => {
    await conversationsApi.closeCase(kase.id, status, note.trim() || undefined);
    onClosed();
  });
  return (
    <div className="card form">
      <label htmlFor="case-note">
        {c.note}
        <input id="case-note" maxLength={500} value={note} onChange={(e) => setNote(e.target.value)} />
      </label>
      <div className="row">
        <button type="button" className="primary" disabled={busy} onClick={() => void close("resolved")}>
          {c.resolve}
        </button>
        <button type="button" className="secondary" disabled={busy} onClick={() => void close("dismissed")}>
          {c.dismiss}
        </button>
      </div>
      <ConvError error={error} />
    </div>
  );
}
