// One conversation, live: history (older pages on demand), messages pushed as they arrive and
// recovered by sequence number after a reconnect or a gap, sending with a client id that makes a
// retry safe, images, read state (已读), and the party's actions (block, report, help, call).
// Customer service gets the same thread read-only.
import { useCallback, useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";

import { ApiError } from "../api/http";
import { realtime, type ConnectionState } from "../api/realtime";
import { conversations as t, resident } from "../strings";
import { ErrorNote, Loading, useAction } from "../ui/kit";
import {
  CONVERSATION_MESSAGE,
  CONVERSATION_READ,
  conversationsApi,
  newClientMsgId,
  type Conversation,
  type ConversationSummary,
  type Message,
  type MessagePush,
  type ReadPush,
  type Side,
} from "./api";
import "./conversations.css";
import { refreshConversationUnread } from "./unread";

const IMAGE_TYPES = new Set(["image/jpeg", "image/png", "image/webp"]);

interface Pending {
  clientMsgId: string;
  text: string;
  imageKey?: string;
  failed: boolean;
}

export function ConvError({ error }: { error: unknown }): ReactNode {
  if (error instanceof ApiError && error.code in t.errors) {
    return (
      <p className="error" role="alert">
        {t.errors[error.code]}
      </p>
    );
  }
  return <ErrorNote error={error} />;
}

/** Messages by seq, ascending, without duplicates. */
function merge(current: Message[], incoming: Message[]): Message[] {
  const bySeq = new Map(current.map((m) => [m.seq, m]));
  for (const m of incoming) bySeq.set(m.seq, m);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** The highest seq held with no gap after the oldest message held (what recovery starts from):
 * older messages are history, paged over REST on demand. */
function contiguous(messages: Message[]): number {
  const first = messages[0];
  if (!first) return 0;
  let last = first.seq;
  for (const m of messages) {
    if (m.seq <= last) continue;
    if (m.seq !== last + 1) break;
    last = m.seq;
  }
  return last;
}

export function ConversationView({
  id,
  pushNamespace = "/",
  readOnly = false,
}: {
  id: string;
  /** Where the pushes arrive: "/" for residents, "/merchant" for a merchant's staff. */
  pushNamespace?: string;
  /** Customer service: the thread, no composer, no party actions. */
  readOnly?: boolean;
}): ReactNode {
  const [conversation, setConversation] = useState<Conversation | ConversationSummary | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [olderFrom, setOlderFrom] = useState<number | null>(null);
  const [otherRead, setOtherRead] = useState(0);
  const [pending, setPending] = useState<Pending[]>([]);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [connection, setConnection] = useState<ConnectionState>("connecting");
  const messagesRef = useRef<Message[]>([]);
  const mySide = useRef<Side | null>(null);
  const recovering = useRef(false);
  // Recovery starts from what the first history page loaded; before that there is nothing to
  // recover from (and recovering from 0 would page through the whole conversation).
  const loaded = useRef(false);
  const readSent = useRef(0);
  messagesRef.current = messages;

  const load = useCallback(async () => {
    const [conv, page] = await Promise.all([
      readOnly ? conversationsApi.caseConversation(id) : conversationsApi.get(id),
      conversationsApi.history(id),
    ]);
    mySide.current = conv.my_side;
    setConversation(conv);
    setOtherRead(conv.other_read_seq);
    // Merged: a push may have arrived while the history was loading.
    // The ref at once, not at the next render: a recovery may start before it.
    messagesRef.current = merge(messagesRef.current, page.messages);
    setMessages((current) => merge(current, page.messages));
    setOlderFrom(page.next_before_seq);
    loaded.current = true;
  }, [id, readOnly]);

  const recover = useCallback(async () => {
    if (recovering.current || readOnly || !loaded.current) return;
    recovering.current = true;
    try {
      let since = contiguous(messagesRef.current);
      for (;;) {
        const page = await conversationsApi.recover(id, since);
        setMessages((current) => merge(current, page.messages));
        setOtherRead((seen) => Math.max(seen, page.other_read_seq));
        const last = page.messages.at(-1)?.seq ?? since;
        if (!page.more || last === since) break;
        since = last;
      }
    } catch {
      // The next (re)connection or gap asks again; what is shown stays.
    } finally {
      recovering.current = false;
    }
  }, [id, readOnly]);

  useEffect(() => {
    setConversation(null);
    setMessages([]);
    setPending([]);
    setLoadError(null);
    readSent.current = 0;
    loaded.current = false;
    load().catch((e: unknown) => setLoadError(e));
  }, [load]);

  // Live: pushes on the party's namespace; recovery on every (re)connection and on a gap.
  useEffect(() => {
    if (readOnly) return;
    const rt = realtime(pushNamespace);
    const stops: Array<() => void> = [];
    let live = true;
    void (async () => {
      const off = await rt.on<MessagePush>(CONVERSATION_MESSAGE, (push) => {
        if (push.conversation_id !== id) return;
        const held = contiguous(messagesRef.current);
        setMessages((current) => merge(current, [push.message]));
        setPending((current) => current.filter((p) => p.clientMsgId !== push.message.client_msg_id));
        if (push.message.seq > held + 1) void recover();
      });
      const offRead = await rt.on<ReadPush>(CONVERSATION_READ, (push) => {
        if (push.conversation_id !== id) return;
        if (push.side !== mySide.current) setOtherRead((seen) => Math.max(seen, push.seq));
      });
      const offConnect = await rt.onConnect(() => void recover());
      const offState = rt.onState(setConnection);
      stops.push(off, offRead, offConnect, offState);
      if (!live) stops.forEach((stop) => stop());
    })();
    return () => {
      live = false;
      stops.forEach((stop) => stop());
    };
  }, [id, pushNamespace, readOnly, recover]);

  // Read what is shown: the last message, once it is on screen and the page is visible.
  const lastSeq = messages.at(-1)?.seq ?? 0;
  useEffect(() => {
    if (readOnly || !conversation || lastSeq <= readSent.current) return;
    if (lastSeq <= conversation.read_seq && readSent.current === 0) {
      readSent.current = conversation.read_seq;
      return;
    }
    if (document.visibilityState !== "visible") return;
    readSent.current = lastSeq;
    conversationsApi.markRead(id, lastSeq).then(refreshConversationUnread, () => {
      readSent.current = 0; // tried again with the next message or render
    });
  }, [id, lastSeq, conversation, readOnly]);

  const sendPending = useCallback(
    async (item: Pending) => {
      setPending((current) => current.map((p) => (p.clientMsgId === item.clientMsgId ? { ...p, failed: false } : p)));
      try {
        const sent = await conversationsApi.send(id, item.clientMsgId, item.text, item.imageKey);
        setMessages((current) => merge(current, [sent.message]));
        setPending((current) => current.filter((p) => p.clientMsgId !== item.clientMsgId));
      } catch (e) {
        // Kept with its client id: 重发 sends the same id, so a send that did land is not doubled.
        setPending((current) => current.map((p) => (p.clientMsgId === item.clientMsgId ? { ...p, failed: true } : p)));
        throw e;
      }
    },
    [id],
  );

  const [loadOlder, loadingOlder, olderError] = useAction(async () => {
    if (olderFrom === null) return;
    const page = await conversationsApi.history(id, olderFrom);
    setMessages((current) => merge(current, page.messages));
    setOlderFrom(page.next_before_seq);
  });

  if (loadError) return <ConvError error={loadError} />;
  if (!conversation) return <Loading />;
  const side = conversation.my_side;
  const full = "blocked_by_me" in conversation ? conversation : null;
  const nameOf = (m: Message): string =>
    m.side === side ? t.you : m.side === "buyer" ? conversation.buyer.name : conversation.seller.name;
  const myLast = [...messages].reverse().find((m) => m.side === side);
  return (
    <div className="conversation">
      <ConversationHead conversation={conversation} />
      {!readOnly ? (
        <p className={`conv-live ${connection}`} role="status">
          {t.live[connection === "online" ? "online" : connection === "refused" ? "refused" : "offline"]}
        </p>
      ) : (
        <p className="conv-note" role="note">{t.console.readOnly}</p>
      )}
      <section className="conv-thread" aria-label={t.messages}>
        {olderFrom !== null ? (
          <button type="button" className="link" disabled={loadingOlder} onClick={() => void loadOlder()}>
            {t.older}
          </button>
        ) : null}
        <ConvError error={olderError} />
        {messages.length === 0 && pending.length === 0 ? <p className="muted">{t.noMessages}</p> : null}
        <ol className="conv-messages" aria-live="polite">
          {messages.map((m) => (
            <li key={m.seq} className={`conv-message ${m.side === side ? "mine" : "theirs"}`} data-seq={m.seq}>
              <span className="conv-who">{nameOf(m)}</span>
              {m.image_url ? <img className="conv-image" src={m.image_url} alt={t.imageAlt(nameOf(m), m.seq)} /> : null}
              {m.text ? <p className="conv-text">{m.text}</p> : null}
              <span className="conv-meta">
                <time dateTime={m.at}>{resident.time(m.at)}</time>
                {m === myLast && side ? <span className="conv-read">{m.seq <= otherRead ? t.read : t.delivered}</span> : null}
              </span>
            </li>
          ))}
          {pending.map((p) => (
            <li key={p.clientMsgId} className="conv-message mine pending">
              <span className="conv-who">{t.you}</span>
              <p className="conv-text">{p.text || t.image}</p>
              <span className="conv-meta">
                {p.failed ? (
                  <>
                    <span className="error">{t.failed}</span>{" "}
                    <button type="button" className="link" onClick={() => void sendPending(p).catch(() => undefined)}>
                      {t.retry}
                    </button>
                  </>
                ) : (
                  t.sending
                )}
              </span>
            </li>
          ))}
        </ol>
      </section>
      {!readOnly && full ? (
        <>
          <Composer
            conversation={full}
            onSend={(text, imageKey) => {
              const item: Pending = { clientMsgId: newClientMsgId(), text, imageKey, failed: false };
              setPending((current) => [...current, item]);
              return sendPending(item);
            }}
          />
          <PartyActions conversation={full} onChange={setConversation} />
        </>
      ) : null}
    </div>
  );
}

function ConversationHead({ conversation }: { conversation: ConversationSummary }): ReactNode {
  const other =
    conversation.my_side === "seller"
      ? t.withBuyer(conversation.buyer.name)
      : conversation.my_side === "buyer"
        ? t.withSeller(conversation.seller.name)
        : `${t.withBuyer(conversation.buyer.name)} · ${t.withSeller(conversation.seller.name)}`;
  return (
    <div className="card conv-head">
      {conversation.listing.image_url ? <img src={conversation.listing.image_url} alt="" className="conv-thumb" /> : null}
      <div className="conv-grow">
        <p className="conv-title">{other}</p>
        <p className="muted conv-small">
          {t.about}：{conversation.listing.title}（{t.listingStatus[conversation.listing.status] ?? conversation.listing.status}）
        </p>
      </div>
    </div>
  );
}

function Composer({
  conversation,
  onSend,
}: {
  conversation: Conversation;
  onSend: (text: string, imageKey?: string) => Promise<void>;
}): ReactNode {
  const [text, setText] = useState("");
  const fileInput = useRef<HTMLInputElement>(null);
  const [send, busy, error] = useAction(async (event?: FormEvent) => {
    event?.preventDefault();
    const body = text.trim();
    if (!body) return;
    setText("");
    await onSend(body);
  });
  const [sendImage, uploading, imageError] = useAction(async (file: File) => {
    if (!IMAGE_TYPES.has(file.type)) throw new ApiError(415, "unsupported_media_type", file.type);
    const uploaded = await conversationsApi.upload(conversation.id, file);
    await onSend("", uploaded.image_key);
  });
  if (conversation.blocked_by_me || conversation.blocked_by_other) {
    return (
      <p className="card muted" role="note">
        {conversation.blocked_by_me ? t.blockedByMe : t.blockedByOther}
      </p>
    );
  }
  return (
    <form className="card conv-composer" onSubmit={(e) => void send(e)}>
      <label htmlFor="conv-text" className="conv-sr-only">
        {t.composer}
      </label>
      <textarea
        id="conv-text"
        rows={2}
        maxLength={2000}
        value={text}
        placeholder={t.composer}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            void send();
          }
        }}
      />
      <div className="row">
        <label className="conv-attach">
          {t.attach}
          <input
            ref={fileInput}
            type="file"
            accept="image/jpeg,image/png,image/webp"
            className="conv-sr-only"
            disabled={uploading}
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (fileInput.current) fileInput.current.value = "";
              if (file) void sendImage(file);
            }}
          />
        </label>
        <span className="conv-grow" />
        <button type="submit" className="primary" disabled={busy || !text.trim()}>
          {t.send}
        </button>
      </div>
      <ConvError error={error ?? imageError} />
    </form>
  );
}

function PartyActions({
  conversation,
  onChange,
}: {
  conversation: Conversation;
  onChange: (c: Conversation) => void;
}): ReactNode {
  const [caseKind, setCaseKind] = useState<"report" | "escalate" | null>(null);
  const [reason, setReason] = useState<string>(t.reportReasons[0] ?? "");
  const [done, setDone] = useState(false);
  const [call, setCall] = useState<Awaited<ReturnType<typeof conversationsApi.call>> | null>(null);
  const [toggleBlock, blocking, blockError] = useAction(async () => {
    if (!conversation.blocked_by_me && !window.confirm(t.blockConfirm)) return;
    onChange(conversation.blocked_by_me ? await conversationsApi.unblock(conversation.id) : await conversationsApi.block(conversation.id));
  });
  const [submitCase, submitting, caseError] = useAction(async (event: FormEvent) => {
    event.preventDefault();
    if (caseKind === "report") await conversationsApi.report(conversation.id, reason);
    else await conversationsApi.escalate(conversation.id, reason);
    setCaseKind(null);
    setDone(true);
  });
  const [askCall, calling, callError] = useAction(async () => {
    setCall(await conversationsApi.call(conversation.id));
  });
  return (
    <div className="card conv-actions">
      <div className="row conv-wrap">
        {conversation.can_request_call ? (
          <button type="button" className="secondary" disabled={calling} onClick={() => void askCall()}>
            {t.call}
          </button>
        ) : null}
        <button type="button" className={conversation.blocked_by_me ? "secondary" : "danger"} disabled={blocking} onClick={() => void toggleBlock()}>
          {conversation.blocked_by_me ? t.unblock : t.block}
        </button>
        <button type="button" className="secondary" onClick={() => setCaseKind("report")}>
          {t.report}
        </button>
        <button type="button" className="secondary" onClick={() => setCaseKind("escalate")}>
          {t.escalate}
        </button>
      </div>
      <ConvError error={blockError ?? callError} />
      {call?.mode === "number" && call.number ? (
        <p role="status">
          <a className="conv-call-link" href={`tel:${call.number}`}>
            {t.callNumber} {call.number}
          </a>{" "}
          <span className="muted conv-small">{t.callExpires(resident.time(call.expires_at))}</span>
        </p>
      ) : null}
      {call?.mode === "guidance" ? (
        <ul role="status" className="muted conv-small">
          {(call.guidance ?? []).map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      ) : null}
      {done ? <p role="status">{t.reported}</p> : null}
      {caseKind ? (
        <form className="form" aria-labelledby="case-title" onSubmit={(e) => void submitCase(e)}>
          <h2 id="case-title">{caseKind === "report" ? t.reportTitle : t.escalateTitle}</h2>
          <label htmlFor="case-reason">
            {t.reason}
            <select id="case-reason" value={reason} onChange={(e) => setReason(e.target.value)}>
              {t.reportReasons.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <div className="row">
            <button type="submit" className="primary" disabled={submitting}>
              {t.submit}
            </button>
            <button type="button" className="secondary" onClick={() => setCaseKind(null)}>
              {t.cancel}
            </button>
          </div>
          <ConvError error={caseError} />
        </form>
      ) : null}
    </div>
  );
}
