// Customer service works the queue: conversations waiting for a person, taking one over, replying
// and closing. The `/support` namespace pushes queue changes and residents' messages live
// (docs/protocol.md, "Customer service"); REST stays the source of truth after a reconnect.
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";

import { http, query } from "../api/http";
import { realtime } from "../api/realtime";
import { useSession } from "../session";
import { consoleText } from "../strings";
import { Empty, Loading, Page, useAction, useLoad } from "../ui/kit";
import { ConnectionBadge, ErrorNote, ReasonDialog } from "./shared";

const t = consoleText.support;
const SUPPORT = "/support";
const PUSHES = ["support:queued", "support:taken", "support:message", "support:closed"];

interface Conversation {
  id: string;
  user_id: string;
  status: string;
  agent_id: string | null;
  handover_reason: string | null;
  created_at: string;
  updated_at: string;
  queued_at: string | null;
  taken_at: string | null;
}

interface Message {
  id: number;
  role: string;
  body: string;
  created_at: string;
}

interface Push {
  conversation_id: string;
}

export function SupportPage(): ReactNode {
  const [queue, error, reload] = useLoad(() => http.get<Conversation[]>(`/support/queue${query({ limit: 100 })}`), []);
  const [openId, setOpenId] = useState<string | null>(null);
  const [changed, setChanged] = useState<{ id: string; at: number } | null>(null);

  useEffect(() => {
    const stops: Array<() => void> = [];
    let live = true;
    const client = realtime(SUPPORT);
    for (const name of PUSHES) {
      void client.on<Push>(name, (push) => {
        reload();
        setChanged({ id: push.conversation_id, at: Date.now() });
      }).then((stop) => (live ? stops.push(stop) : stop()));
    }
    // After a reconnect the pushes in between are lost: read the queue again.
    void client.onConnect(reload).then((stop) => (live ? stops.push(stop) : stop()));
    return () => {
      live = false;
      for (const stop of stops) stop();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  return (
    <Page title={t.title} actions={<ConnectionBadge namespace={SUPPORT} />}>
      <div className="console-split console-support">
        <section aria-labelledby="support-queue-title">
          <h2 id="support-queue-title">{t.queue}</h2>
          <ErrorNote error={error} />
          {queue === undefined ? (
            error ? null : <Loading />
          ) : queue.length === 0 ? (
            <Empty>{t.none}</Empty>
          ) : (
            <ul className="list">
              {queue.map((c) => (
                <QueueItem key={c.id} conversation={c} selected={c.id === openId} onOpen={() => setOpenId(c.id)} />
              ))}
            </ul>
          )}
        </section>
        {openId ? (
          <ConversationView key={openId} id={openId} changedAt={changed?.id === openId ? changed.at : 0} onChanged={reload} />
        ) : (
          <Empty>{t.choose}</Empty>
        )}
      </div>
    </Page>
  );
}

function QueueItem({ conversation: c, selected, onOpen }: { conversation: Conversation; selected: boolean; onOpen: () => void }): ReactNode {
  const { me } = useSession();
  const label = c.status === "human" ? (c.agent_id === me?.id ? t.mine : t.others) : (t.status[c.status] ?? c.status);
  return (
    <li className={`card ${selected ? "console-selected" : ""}`} data-conversation={c.id}>
      <div className="console-grow">
        <span className={`badge ${c.status === "queued" ? "pending" : "verified"}`}>{label}</span>
        <div className="muted">{t.queuedAt(consoleText.time(c.queued_at ?? c.created_at))}</div>
        {c.handover_reason ? <div className="muted">{t.reason(c.handover_reason)}</div> : null}
      </div>
      <button type="button" className="secondary" aria-label={`${t.open} ${consoleText.time(c.queued_at ?? c.created_at)}`} onClick={onOpen}>
        {t.open}
      </button>
    </li>
  );
}

function ConversationView({ id, changedAt, onChanged }: { id: string; changedAt: number; onChanged: () => void }): ReactNode {
  const { me } = useSession();
  const [detail, error, reload] = useLoad(
    () => http.get<{ conversation: Conversation; messages: Message[] }>(`/support/conversations/${id}`),
    [id, changedAt],
  );
  const [text, setText] = useState("");
  const [closing, setClosing] = useState(false);
  const end = useRef<HTMLLIElement>(null);
  const [take, taking, takeError] = useAction(async () => {
    await http.post(`/support/conversations/${id}/take`);
    reload();
    onChanged();
  });
  const [send, sending, sendError] = useAction(async () => {
    await http.post(`/support/conversations/${id}/messages`, { text: text.trim() });
    setText("");
    reload();
  });
  // A block body: Chromium's scrollIntoView returns a promise, which React would take for a cleanup.
  useEffect(() => {
    end.current?.scrollIntoView({ block: "nearest" });
  }, [detail]);

  if (!detail) return error ? <ErrorNote error={error} /> : <Loading />;
  const { conversation: c, messages } = detail;
  const mine = c.status === "human" && c.agent_id === me?.id;
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    if (text.trim()) void send();
  };
  return (
    <section className="card console-conversation" aria-labelledby="conversation-title">
      <header className="row">
        <h2 id="conversation-title" className="console-grow">
          {t.status[c.status] ?? c.status}
        </h2>
        {c.status === "queued" || c.status === "ai" ? (
          <button type="button" className="primary" disabled={taking} onClick={() => void take()}>
            {taking ? consoleText.busy : t.take}
          </button>
        ) : null}
        {mine ? (
          <button type="button" className="danger" onClick={() => setClosing(true)}>
            {t.close}
          </button>
        ) : null}
      </header>
      {c.status === "human" && !mine ? <p className="muted">{t.takenByOther}</p> : null}
      <ErrorNote error={error ?? takeError} />
      <ol className="list console-messages" aria-label={t.title}>
        {messages.map((m) => (
          <li key={m.id} className={`console-message role-${m.role}`}>
            <span className="muted">
              {t.roles[m.role] ?? m.role} · {consoleText.time(m.created_at)}
            </span>
            <div>{m.body}</div>
          </li>
        ))}
        <li ref={end} aria-hidden="true" />
      </ol>
      {mine ? (
        <form className="row" onSubmit={submit}>
          <label className="console-inline console-grow">
            {t.replyLabel}
            <textarea value={text} rows={2} maxLength={2000} onChange={(e) => setText(e.target.value)} />
          </label>
          <button type="submit" className="primary" disabled={sending || !text.trim()}>
            {sending ? consoleText.busy : t.send}
          </button>
        </form>
      ) : null}
      <ErrorNote error={sendError} />
      {closing ? (
        <ReasonDialog
          title={t.confirmClose}
          confirmLabel={t.close}
          onClose={() => setClosing(false)}
          onConfirm={async () => {
            await http.post(`/support/conversations/${id}/close`);
            reload();
            onChanged();
          }}
        />
      ) : null}
    </section>
  );
}
