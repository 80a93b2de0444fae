// A resident watching the community's stream (mobile): the picture over WebRTC from the node's
// relay, the pinned listings as cards that open the listing to order, and the channel's chat
// below. The page follows the channel: a stream that starts while it is open plays at once, one
// that ends says why.
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import { Link, useParams } from "react-router";

import { type ChannelFeed, type ChannelState } from "../api/channel";
import { ApiError, http } from "../api/http";
import { realtime } from "../api/realtime";
import { useSession, type MyCommunity } from "../session";
import { SponsoredSlot } from "../sponsored/SponsoredCard";
import { live } from "../strings";
import { Empty, ErrorNote, Loading, Page, useAction, useLoad } from "../ui/kit";
import { type Announcement, when } from "./announcements";
import { LiveError } from "./errors";
import "./live.css";
import { PinnedCard, usePinnedDetails } from "./pins";
import { LiveViewer, webrtcSupported, type LiveSession } from "./rtc";
import { useChannel, useConnection, useLiveSession } from "./useLive";


// About 30 s of asking again while a just-started stream's host connects.
const NOT_READY_WAITS = 20;

export default function LiveWatchPage(): ReactNode {
  const { communityId } = useParams();
  const { me, communities } = useSession();
  const mayWatch = (c: MyCommunity): boolean => c.status === "verified" || c.role === "property_staff";
  const community = communityId ? communities.find((c) => c.id === communityId) : communities.find(mayWatch);
  const id = communityId ?? community?.id;
  // The node checks membership on every watch; this only spares a visitor a dead screen.
  if (!id || (!me?.platform_role && !(community && mayWatch(community)))) {
    return (
      <Page title={live.watch.title}>
        <p className="card">
          {live.watch.noCommunity} <Link to="/communities">{live.watch.joinCommunity}</Link>
        </p>
      </Page>
    );
  }
  return <LiveRoom communityId={id} name={community?.name ?? live.watch.title} />;
}

function LiveRoom({ communityId, name }: { communityId: string; name: string }): ReactNode {
  const [feed, state, error] = useChannel(communityId);
  const { session, stopped } = useLiveSession(feed);
  return (
    <section className="page live-watch">
      <header className="page-head">
        <h1>{session ? session.title : name}</h1>
        {session ? <span className="live-badge">{live.watch.playing}</span> : null}
      </header>
      <ErrorNote error={error} />
      {session ? (
        <>
          <LivePlayer key={session.session_id} communityId={communityId} session={session} />
          <SponsoredSlot feed={feed} sessionId={session.session_id} />
          <p className="live-meta">
            <span>{live.watch.host(session.host_name)}</span>
            <span aria-live="polite">{live.watch.viewers(session.viewers)}</span>
          </p>
          <Pinned session={session} />
        </>
      ) : (
        <OffAir communityId={communityId} stopped={stopped} joined={state?.joined ?? false} />
      )}
      {feed && state ? <LiveChat feed={feed} state={state} /> : null}
    </section>
  );
}

function LivePlayer({ communityId, session }: { communityId: string; session: LiveSession }): ReactNode {
  const video = useRef<HTMLVideoElement>(null);
  const connection = useConnection();
  const [status, setStatus] = useState<"connecting" | "playing" | "failed">("connecting");
  const [error, setError] = useState<unknown>(null);
  const [muted, setMuted] = useState(true);
  const [attempt, setAttempt] = useState(0);
  const waits = useRef(0);

  useEffect(() => {
    // A new socket (after a reconnect) is a new viewer to the node: watch again from there.
    if (connection !== "online" || !webrtcSupported()) return;
    let active = true;
    let retry: number | undefined;
    const viewer = new LiveViewer(realtime(), communityId, session.session_id);
    setStatus("connecting");
    setError(null);
    const stopState = viewer.onState((state) => {
      if (active && state === "failed") setStatus("failed");
    });
    viewer.watch().then(
      ({ stream }) => {
        if (!active || !video.current) return;
        waits.current = 0;
        video.current.srcObject = stream;
        // Muted autoplay is allowed everywhere; sound needs the viewer's tap (the button below).
        void video.current.play().catch(() => undefined);
      },
      (e: unknown) => {
        if (!active) return;
        // The stream was announced before its host's offer was answered: ask again shortly.
        if (e instanceof ApiError && e.code === "stream_not_ready" && waits.current < NOT_READY_WAITS) {
          waits.current += 1;
          retry = window.setTimeout(() => setAttempt((n) => n + 1), Math.min(250 * waits.current, 2_000));
          return;
        }
        setError(e);
        setStatus("failed");
      },
    );
    return () => {
      active = false;
      window.clearTimeout(retry);
      stopState();
      viewer.leave();
    };
  }, [communityId, session.session_id, connection, attempt]);

  useEffect(() => {
    if (video.current) video.current.muted = muted;
  }, [muted]);

  const toggleSound = (): void => {
    const element = video.current;
    setMuted(!muted);
    if (element) {
      element.muted = !muted;
      void element.play().catch(() => undefined);
    }
  };

  return (
    <div className="live-player">
      <video
        ref={video}
        className="live-video"
        playsInline
        muted
        autoPlay
        aria-label={live.watch.video(session.title)}
        onPlaying={() => setStatus("playing")}
      />
      {status !== "playing" ? (
        <div className="live-overlay" role="status">
          {!webrtcSupported() ? live.errors.webrtc_unsupported : status === "connecting" ? live.watch.connecting : null}
          {status === "failed" ? (
            <>
              <LiveError error={error} />
              <button
                type="button"
                className="primary"
                onClick={() => {
                  waits.current = 0;
                  setAttempt((n) => n + 1);
                }}
              >
                {live.watch.retry}
              </button>
            </>
          ) : null}
        </div>
      ) : null}
      <button type="button" className="live-sound" onClick={toggleSound}>
        {muted ? live.watch.unmute : live.watch.mute}
      </button>
    </div>
  );
}

function Pinned({ session }: { session: LiveSession }): ReactNode {
  const details = usePinnedDetails(session.pinned);
  if (session.pinned.length === 0) return null;
  return (
    <section className="live-pins" aria-labelledby="live-pins-title">
      <h2 id="live-pins-title">{live.watch.pinned}</h2>
      <ul className="pin-strip">
        {details.map((detail) => (
          <li key={`${detail.kind}:${detail.id}`}>
            <PinnedCard detail={detail} />
          </li>
        ))}
      </ul>
    </section>
  );
}

function OffAir({ communityId, stopped, joined }: { communityId: string; stopped: string | null; joined: boolean }): ReactNode {
  const [announcements, error, reload] = useLoad(
    () => http.get<Announcement[]>(`/communities/${communityId}/live/announcements`),
    [communityId],
  );
  useEffect(() => {
    let stop: (() => void) | null = null;
    let active = true;
    // Announcements are pushed to the community's sockets (not sequenced): refresh the list.
    void realtime()
      .on("live:announcement", () => reload())
      .then((off) => (active ? (stop = off) : off()));
    return () => {
      active = false;
      stop?.();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [communityId]);
  const coming = (announcements ?? []).filter((a) => !a.cancelled_at);
  return (
    <>
      <div className="live-player off-air" role="status">
        {!joined ? <Loading /> : <p>{stopped ? (live.watch.stoppedReasons[stopped] ?? live.watch.ended) : live.watch.notLive}</p>}
      </div>
      <section aria-labelledby="live-upcoming-title">
        <h2 id="live-upcoming-title">{live.watch.upcoming}</h2>
        <ErrorNote error={error} />
        {announcements === undefined && !error ? <Loading /> : null}
        {announcements && coming.length === 0 ? <Empty>{live.watch.noUpcoming}</Empty> : null}
        <ul className="list">
          {coming.map((a) => (
            <li key={a.id} className="card">
              <strong>{a.title}</strong>
              <time dateTime={a.starts_at} className="muted">
                {when(a.starts_at)}
              </time>
              {a.description ? <p className="muted">{a.description}</p> : null}
            </li>
          ))}
        </ul>
      </section>
    </>
  );
}

function LiveChat({ feed, state }: { feed: ChannelFeed; state: ChannelState }): ReactNode {
  const [text, setText] = useState("");
  const list = useRef<HTMLOListElement>(null);
  // The feed shows the message at once (greyed until acknowledged) and resends it after a
  // reconnect, so the input is free again straight away.
  const [send, sending, error] = useAction(async (message: string) => {
    setText("");
    await feed.send(message);
  });
  const messages = state.messages.slice(-100);
  useEffect(() => {
    const element = list.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, [messages.length]);
  const muted = state.mutedUntil !== null && new Date(state.mutedUntil) > new Date();
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const message = text.trim();
    if (message) void send(message);
  };
  return (
    <section className="live-chat" aria-labelledby="live-chat-title">
      <h2 id="live-chat-title">{live.watch.chat}</h2>
      <ol ref={list} className="live-messages" aria-live="polite" tabIndex={0} aria-labelledby="live-chat-title">
        {messages.length === 0 ? <li className="muted">{live.watch.noMessages}</li> : null}
        {messages.map((m) => (
          <li key={`${m.seq}:${m.client_msg_id}`} className={m.pending ? "pending" : undefined}>
            {m.name ? <strong>{m.name}：</strong> : null}
            {m.text}
          </li>
        ))}
      </ol>
      <ErrorNote error={error} />
      {muted && state.mutedUntil ? <p className="error">{live.watch.muted(when(state.mutedUntil))}</p> : null}
      <form className="row live-compose" onSubmit={submit}>
        <label className="visually-hidden" htmlFor="live-message">
          {live.watch.message}
        </label>
        <input
          id="live-message"
          value={text}
          maxLength={500}
          placeholder={live.watch.messagePlaceholder}
          onChange={(event) => setText(event.target.value)}
          disabled={muted}
        />
        <button type="submit" className="primary" disabled={sending || muted || !text.trim()}>
          {sending ? live.watch.sending : live.watch.send}
        </button>
      </form>
    </section>
  );
}
