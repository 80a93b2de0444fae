// The community channel for residents: which community (when there are several), the connection
// banner, presence, and the channel's three views — chat, group buys, lottery — over one joined
// ChannelFeed.
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from "react";
import { Link, useParams, useSearchParams } from "react-router";

import { type ChannelFeed, type ChannelState, type ChatMessage, type FeedConnection } from "../api/channel";
import { useSession, type MyCommunity } from "../session";
import { channel, common } from "../strings";
import { LiveBanner } from "../live/LiveBanner";
import { Loading, Page } from "../ui/kit";
import { channelError, clock, feedFor, useFeedState, when } from "./feed";
import { GroupBuys, groupBuysOf } from "./GroupBuys";
import { drawsOf, LotteryView } from "./Lottery";
import "./channel.css";

const MAX_TEXT = 2_000;

/** /channel: the resident's only channel, or the list of them. */
export function ChannelHome(): ReactNode {
  const { communities } = useSession();
  const verified = communities.filter((c) => c.status === "verified");
  if (verified.length === 1) return <ChannelScreen community={verified[0] as MyCommunity} />;
  return (
    <Page title={channel.title}>
      {verified.length === 0 ? (
        <p className="card">
          {channel.noCommunity} <Link to="/me">{channel.toMe}</Link>
        </p>
      ) : (
        <>
          <h2>{channel.pick}</h2>
          <ul className="list">
            {verified.map((c) => (
              <li key={c.id} className="card">
                <Link to={`/channel/${c.id}`}>{c.name}</Link>
                <span className="muted">{c.address}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </Page>
  );
}

/** /channel/:communityId */
export function ChannelById(): ReactNode {
  const { communityId } = useParams();
  const { communities } = useSession();
  const community = communities.find((c) => c.id === communityId && c.status === "verified");
  if (!community) {
    return (
      <Page title={channel.title}>
        <p className="card" role="alert">
          {channel.notMember} <Link to="/me">{channel.toMe}</Link>
        </p>
      </Page>
    );
  }
  return <ChannelScreen community={community} />;
}

function ChannelScreen({ community }: { community: MyCommunity }): ReactNode {
  const { me } = useSession();
  const feed = useMemo(() => {
    const made = feedFor(community.id, me?.id ?? "");
    // The features' stores follow the feed from before its first join, whichever view is open.
    groupBuysOf(made);
    drawsOf(made);
    return made;
  }, [community.id, me?.id]);
  const state = useFeedState(feed);
  const [params] = useSearchParams();
  const view = params.get("view") ?? "chat";
  return (
    <section className="page channel">
      <header className="page-head">
        <h1>{community.name}</h1>
        <div className="page-actions">
          <Presence state={state} />
          <Link to="/support">{channel.support.title}</Link>
        </div>
      </header>
      <ConnectionBanner connection={state.connection ?? "connecting"} />
      <LiveBanner feed={feed} />
      {state.joinError ? (
        <p className="error" role="alert">
          {channelError(state.joinError)}
        </p>
      ) : null}
      <nav className="channel-views" aria-label={channel.viewsLabel}>
        {(["chat", "groupbuys", "lottery"] as const).map((v) => (
          <Link key={v} to={v === "chat" ? "?" : `?view=${v}`} aria-current={view === v ? "page" : undefined} replace>
            {channel.views[v]}
          </Link>
        ))}
      </nav>
      {view === "groupbuys" ? (
        <GroupBuys feed={feed} state={state} communityId={community.id} />
      ) : view === "lottery" ? (
        <LotteryView feed={feed} state={state} />
      ) : (
        <ChatView feed={feed} state={state} />
      )}
    </section>
  );
}

function ConnectionBanner({ connection }: { connection: FeedConnection }): ReactNode {
  // "Recovered" is news for a moment; the other states last as long as they are true.
  const [showRecovered, setShowRecovered] = useState(false);
  useEffect(() => {
    if (connection !== "recovered") return;
    setShowRecovered(true);
    const timer = window.setTimeout(() => setShowRecovered(false), 4_000);
    return () => window.clearTimeout(timer);
  }, [connection]);
  const text =
    connection === "offline"
      ? channel.connection.offline
      : connection === "reconnecting"
        ? channel.connection.reconnecting
        : connection === "refused"
          ? channel.connection.refused
          : connection === "connecting"
            ? channel.connection.connecting
            : connection === "recovered" && showRecovered
              ? channel.connection.recovered
              : "";
  return (
    <div className={`connection ${text ? connection : "hidden"}`} role="status" aria-live="polite">
      {text}
    </div>
  );
}

function Presence({ state }: { state: ChannelState }): ReactNode {
  const [open, setOpen] = useState(false);
  const names = useMemo(() => (open ? [...state.online.values()].slice(0, 300) : []), [open, state.online]);
  return (
    <div className="presence">
      <button type="button" className="link" aria-expanded={open} onClick={() => setOpen(!open)}>
        {channel.online(state.online.size)}
      </button>
      {open ? (
        <div className="presence-list card">
          <h2>{channel.onlineList}</h2>
          <ul aria-label={channel.onlineList}>
            {names.map((name, i) => (
              <li key={i}>{name}</li>
            ))}
          </ul>
          <button type="button" className="link" onClick={() => setOpen(false)}>
            {channel.hideOnline}
          </button>
        </div>
      ) : null}
    </div>
  );
}

function ChatView({ feed, state }: { feed: ChannelFeed; state: ChannelState }): ReactNode {
  const listRef = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const keepFrom = useRef<number | null>(null);
  const [olderBusy, setOlderBusy] = useState(false);
  const [olderError, setOlderError] = useState<unknown>(null);
  const [reporting, setReporting] = useState<ChatMessage | null>(null);

  // Follow new messages only when the reader is at the bottom; keep the place when older ones
  // are put above.
  useLayoutEffect(() => {
    const list = listRef.current;
    if (!list) return;
    if (keepFrom.current !== null) {
      list.scrollTop += list.scrollHeight - keepFrom.current;
      keepFrom.current = null;
    } else if (atBottom.current) {
      list.scrollTop = list.scrollHeight;
    }
  }, [state.messages]);

  const onScroll = useCallback(() => {
    const list = listRef.current;
    if (list) atBottom.current = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  }, []);

  const loadOlder = async (): Promise<void> => {
    setOlderBusy(true);
    setOlderError(null);
    keepFrom.current = listRef.current?.scrollHeight ?? null;
    try {
      await feed.loadOlder();
    } catch (error) {
      keepFrom.current = null;
      setOlderError(error);
    } finally {
      setOlderBusy(false);
    }
  };

  const resend = useCallback((id: string) => void feed.resend(id), [feed]);
  const report = useCallback((message: ChatMessage) => setReporting(message), []);
  const muted = state.mutedUntil !== null && new Date(state.mutedUntil).getTime() > Date.now();

  return (
    <div className="chat">
      <div className="chat-list" ref={listRef} onScroll={onScroll}>
        <div className="chat-older">
          {state.hasOlder ? (
            <button type="button" className="link" onClick={() => void loadOlder()} disabled={olderBusy || !state.joined}>
              {olderBusy ? channel.loadingOlder : channel.loadOlder}
            </button>
          ) : (
            <span className="muted">{channel.noOlder}</span>
          )}
          {olderError ? (
            <p className="error" role="alert">
              {channelError(olderError)}
            </p>
          ) : null}
        </div>
        {!state.joined ? <Loading /> : null}
        {state.joined && state.messages.length === 0 ? <p className="muted empty">{channel.noMessages}</p> : null}
        <ol className="messages" aria-label={channel.messages} aria-live="polite">
          {state.messages.map((m) => (
            <MessageRow key={m.pending ? m.client_msg_id : m.seq} message={m} mine={m.user_id === feed.me} onResend={resend} onReport={report} />
          ))}
        </ol>
      </div>
      {reporting ? <ReportDialog feed={feed} message={reporting} onClose={() => setReporting(null)} /> : null}
      {muted ? (
        <p className="mute-notice" role="alert">
          {channel.muted(when(state.mutedUntil as string))}
        </p>
      ) : null}
      <Composer feed={feed} disabled={muted} />
    </div>
  );
}

// Rows keep their identity across updates: a new message renders one row, not the whole history
// (issue 17 item 7: no long task when a message arrives in a channel with 500 messages shown).
const MessageRow = memo(function MessageRow({
  message,
  mine,
  onResend,
  onReport,
}: {
  message: ChatMessage;
  mine: boolean;
  onResend: (clientMsgId: string) => void;
  onReport: (message: ChatMessage) => void;
}): ReactNode {
  return (
    <li className={`message${mine ? " mine" : ""}${message.pending ? " pending" : ""}`} data-seq={message.pending ? undefined : message.seq}>
      <div className="meta">
        <span className="who">{mine ? channel.me : message.name}</span>
        {message.pending ? null : <time dateTime={message.at}>{clock(message.at)}</time>}
        {message.pending || mine ? null : (
          <button type="button" className="link report" aria-label={`${channel.report} ${message.name}：${message.text.slice(0, 20)}`} onClick={() => onReport(message)}>
            {channel.report}
          </button>
        )}
      </div>
      <p className="text">{message.text}</p>
      {message.pending ? (
        message.failed ? (
          <div className="state">
            <span className="error">
              {channel.failed}：{channelError(message.failed)}
            </span>
            <button type="button" className="link" onClick={() => onResend(message.client_msg_id)}>
              {channel.resend}
            </button>
          </div>
        ) : (
          <span className="state muted">{channel.sending}</span>
        )
      ) : null}
    </li>
  );
});

function Composer({ feed, disabled }: { feed: ChannelFeed; disabled: boolean }): ReactNode {
  const [text, setText] = useState("");
  const tooLong = text.length > MAX_TEXT;
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const body = text.trim();
    if (!body || tooLong || disabled) return;
    setText("");
    void feed.send(body);
  };
  return (
    <form className="composer" onSubmit={submit}>
      <label className="visually-hidden" htmlFor="chat-input">
        {channel.input}
      </label>
      <input
        id="chat-input"
        value={text}
        onChange={(e) => setText(e.target.value)}
        placeholder={channel.input}
        disabled={disabled}
        aria-invalid={tooLong}
        aria-describedby={tooLong ? "chat-too-long" : undefined}
        autoComplete="off"
        enterKeyHint="send"
      />
      <button type="submit" className="primary" disabled={disabled || !text.trim() || tooLong}>
        {channel.send}
      </button>
      {tooLong ? (
        <p id="chat-too-long" className="error">
          {channel.tooLong}
        </p>
      ) : null}
    </form>
  );
}

function ReportDialog({ feed, message, onClose }: { feed: ChannelFeed; message: ChatMessage; onClose: () => void }): ReactNode {
  const [reason, setReason] = useState<string>(channel.reportReasons[0]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await feed.request("chat:report", { seq: message.seq, reason });
      setDone(true);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="sheet" role="dialog" aria-modal="true" aria-labelledby="report-title">
      <form className="form card" onSubmit={(e) => void submit(e)}>
        <h2 id="report-title">{channel.reportTitle}</h2>
        <blockquote className="muted">
          {message.name}：{message.text}
        </blockquote>
        {done ? (
          <p className="notice" role="status">
            {channel.reported}
          </p>
        ) : (
          <label>
            {channel.reportReason}
            <select value={reason} onChange={(e) => setReason(e.target.value)}>
              {channel.reportReasons.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </label>
        )}
        {error ? (
          <p className="error" role="alert">
            {channelError(error)}
          </p>
        ) : null}
        <div className="row">
          {done ? null : (
            <button type="submit" className="primary" disabled={busy}>
              {channel.reportSubmit}
            </button>
          )}
          <button type="button" onClick={onClose}>
            {done ? common.close : common.cancel}
          </button>
        </div>
      </form>
    </div>
  );
}
