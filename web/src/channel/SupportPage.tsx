// /support — customer service: the AI agent's conversation, its replies pushed live on the socket
// (`support:message`, docs/protocol.md "Customer service"), and the hand-over to a person.
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type FormEvent, type ReactNode } from "react";

import { http } from "../api/http";
import { fenToYuanText } from "../merchant/api";
import { realtime } from "../api/realtime";
import { channel } from "../strings";
import { Loading, Page } from "../ui/kit";
import { channelError, clock } from "./feed";
import "./channel.css";

type Status = "ai" | "queued" | "human" | "closed";

interface Conversation {
  id: string;
  status: Status;
  agent_id: string | null;
  handover_reason: string | null;
}

// What the agent carries between turns (docs/ai.md "Dialogue state"): the order in question and
// an action that waits for the resident's confirmation. Each assistant reply holds a snapshot.
interface AgentState {
  focus: { order_id: string; short: string; title: string; status: string } | null;
  pending: { action: "refund" | "cancel"; title: string; amount_fen: number } | null;
}

interface Message {
  id: number;
  role: "user" | "assistant" | "agent" | "system";
  body: string;
  created_at: string;
  data?: { state?: AgentState };
}

interface Push {
  conversation_id: string;
  status: Status;
  agent_id: string | null;
  message?: Message;
}

const t = channel.support;

export function SupportPage(): ReactNode {
  const [conversation, setConversation] = useState<Conversation | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [loading, setLoading] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [text, setText] = useState("");
  const current = useRef<string | null>(null);
  const listRef = useRef<HTMLOListElement>(null);

  const merge = useCallback((more: Message[]) => {
    setMessages((before) => {
      const byId = new Map(before.map((m) => [m.id, m]));
      for (const m of more) byId.set(m.id, m);
      return [...byId.values()].sort((a, b) => a.id - b.id);
    });
  }, []);

  const open = useCallback(
    async (id: string) => {
      const detail = await http.get<{ conversation: Conversation; messages: Message[] }>(`/support/conversations/${id}`);
      current.current = id;
      setConversation(detail.conversation);
      setMessages([]);
      merge(detail.messages);
    },
    [merge],
  );

  // The latest open conversation, if any; REST is the source of truth after a reconnect.
  const load = useCallback(async () => {
    const mine = await http.get<Conversation[]>("/support/conversations?limit=5");
    const latest = mine.find((c) => c.status !== "closed");
    if (latest) await open(latest.id);
  }, [open]);

  useEffect(() => {
    load()
      .catch((e: unknown) => setError(e))
      .finally(() => setLoading(false));
    const rt = realtime("/");
    const stops: Array<() => void> = [];
    let live = true;
    void rt
      .on<Push>("support:message", (push) => {
        if (push.conversation_id !== current.current) return;
        setConversation((c) => (c ? { ...c, status: push.status, agent_id: push.agent_id } : c));
        if (push.message) merge([push.message]);
      })
      .then((stop) => (live ? stops.push(stop) : stop()));
    let first = true;
    void rt
      .onConnect(() => {
        // After a reconnect, what was pushed meanwhile is read back.
        if (!first && current.current) void open(current.current).catch(() => undefined);
        first = false;
      })
      .then((stop) => (live ? stops.push(stop) : stop()));
    return () => {
      live = false;
      for (const stop of stops) stop();
    };
  }, [load, merge, open]);

  useLayoutEffect(() => {
    const list = listRef.current;
    if (list) list.scrollTop = list.scrollHeight;
  }, [messages]);

  const run = async (action: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const say = (body: string): void => {
    void run(async () => {
      if (!conversation || conversation.status === "closed") {
        const started = await http.post<{ conversation: Conversation; message: Message | null }>("/support/conversations", { text: body });
        current.current = started.conversation.id;
        setConversation(started.conversation);
        setMessages(started.message ? [started.message] : []);
      } else {
        merge([await http.post<Message>(`/support/conversations/${conversation.id}/messages`, { text: body })]);
      }
      setText("");
    });
  };

  const send = (event: FormEvent): void => {
    event.preventDefault();
    const body = text.trim();
    if (body) say(body);
  };

  const handover = (): void => {
    if (!conversation || !window.confirm(t.handoverConfirm)) return;
    void run(async () => {
      setConversation(await http.post<Conversation>(`/support/conversations/${conversation.id}/handover`));
      await open(conversation.id);
    });
  };

  const close = (): void => {
    if (!conversation || !window.confirm(t.closeConfirm)) return;
    void run(async () => {
      setConversation(await http.post<Conversation>(`/support/conversations/${conversation.id}/close`));
    });
  };

  const status = conversation?.status;
  const waitingForAi = status === "ai" && messages.length > 0 && messages[messages.length - 1]?.role === "user";
  const agentState = status === "ai" ? [...messages].reverse().find((m) => m.role === "assistant")?.data?.state : undefined;
  const pending = agentState?.pending;
  return (
    <Page title={t.title}>
      <div className="support">
        {status ? (
          <p className={`support-status ${status}`} role="status" aria-live="polite">
            {t.status[status]}
          </p>
        ) : (
          <p className="muted">{t.intro}</p>
        )}
        {loading ? <Loading /> : null}
        <ol className="messages support-messages" ref={listRef} aria-label={t.messages} tabIndex={0}>
          {messages.map((m) => (
            <li key={m.id} className={`message ${m.role}${m.role === "user" ? " mine" : ""}`}>
              <div className="meta">
                <span className="who">{t.roles[m.role]}</span>
                <time dateTime={m.created_at}>{clock(m.created_at)}</time>
              </div>
              <p className="text">{m.body}</p>
            </li>
          ))}
        </ol>
        {waitingForAi ? (
          <p className="muted" aria-live="polite">
            {t.thinking}
          </p>
        ) : null}
        {agentState?.focus || pending ? (
          <aside className="support-state" aria-label={t.state}>
            {agentState?.focus ? (
              <p>
                {t.focus}「{agentState.focus.title}」{agentState.focus.short}
              </p>
            ) : null}
            {pending ? (
              <div className="row">
                <span>
                  {pending.action === "refund" ? t.pendingRefund(fenToYuanText(pending.amount_fen)) : t.pendingCancel}「{pending.title}」
                </span>
                <button type="button" className="primary" disabled={busy || waitingForAi} onClick={() => say(pending.action === "refund" ? "确认退款" : "确认取消")}>
                  {t.confirm}
                </button>
                <button type="button" disabled={busy || waitingForAi} onClick={() => say("算了")}>
                  {t.decline}
                </button>
              </div>
            ) : null}
          </aside>
        ) : null}
        {error ? (
          <p className="error" role="alert">
            {channelError(error)}
          </p>
        ) : null}
        <form className="composer" onSubmit={send}>
          <label className="visually-hidden" htmlFor="support-input">
            {t.input}
          </label>
          <input id="support-input" value={text} onChange={(e) => setText(e.target.value)} placeholder={t.input} maxLength={2000} autoComplete="off" />
          <button type="submit" className="primary" disabled={busy || !text.trim()}>
            {conversation && status !== "closed" ? t.send : t.start}
          </button>
        </form>
        {conversation && status !== "closed" ? (
          <div className="row support-actions">
            {status === "ai" ? (
              <button type="button" onClick={handover} disabled={busy}>
                {t.handover}
              </button>
            ) : null}
            <button type="button" className="danger" onClick={close} disabled={busy}>
              {t.close}
            </button>
          </div>
        ) : null}
        {status === "closed" ? <p className="muted">{t.newConversation}</p> : null}
      </div>
    </Page>
  );
}
