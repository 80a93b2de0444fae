// Going live from the console (desktop): the host picks the community, opens the camera, starts
// the stream (`live:start`) and publishes it to the node's relay (`live:publish`), watches the
// viewer count, pins the community's listings for viewers to order, and stops. Beside it, the
// stream announcements (活动预告) and the residents granted the right to go live.
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";

import { http, query } from "../api/http";
import { realtime } from "../api/realtime";
import { type Page as Paged } from "../resident/types";
import { useSession } from "../session";
import { live } from "../strings";
import { Empty, ErrorNote, Loading, Page, useAction, useLoad } from "../ui/kit";
import { LiveError } from "./errors";
import "./live.css";
import { type Announcement, when } from "./announcements";
import { LivePublisher, type LiveSession } from "./rtc";
import { Announcements, Grants } from "./StudioAdmin";
import { Pins } from "./StudioPins";
import { useChannel, useLiveSession } from "./useLive";

interface Community {
  id: string;
  name: string;
}

interface HostCheck {
  may_go_live: boolean;
  role: string | null;
}

const text = live.console;
const MAX_RESTARTS = 3;

export default function LiveConsolePage(): ReactNode {
  const { me, communities: mine } = useSession();
  // Property staff go live in their communities; a verified resident may hold a grant (the
  // studio asks `/live/me` and says so when not).
  const staffOf = [...mine.filter((c) => c.role === "property_staff"), ...mine.filter((c) => c.role !== "property_staff" && c.status === "verified")];
  // Platform staff manage every community; property staff theirs.
  const [all, allError] = useLoad(
    () => (me?.platform_role ? http.get<Paged<Community>>(`/communities${query({ limit: 100 })}`).then((p) => p.items) : Promise.resolve([])),
    [me?.platform_role],
  );
  const choices: Community[] = me?.platform_role ? (all ?? []) : staffOf;
  const [chosen, setChosen] = useState<string>("");
  const communityId = chosen || choices[0]?.id || "";

  return (
    <Page title={text.title}>
      <ErrorNote error={allError} />
      {me?.platform_role && all === undefined && !allError ? <Loading /> : null}
      {choices.length === 0 && (!me?.platform_role || all !== undefined) ? <Empty>{text.noCommunity}</Empty> : null}
      {choices.length > 0 ? (
        <div className="form live-community">
          <label htmlFor="live-community">{text.community}</label>
          <select id="live-community" value={communityId} onChange={(event) => setChosen(event.target.value)}>
            {choices.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      {communityId ? <Studio key={communityId} communityId={communityId} /> : null}
    </Page>
  );
}

function Studio({ communityId }: { communityId: string }): ReactNode {
  const [check, checkError] = useLoad(() => http.get<HostCheck>(`/communities/${communityId}/live/me`), [communityId]);
  const [feed] = useChannel(communityId);
  const { session, stopped } = useLiveSession(feed);
  if (checkError) return <ErrorNote error={checkError} />;
  if (!check) return <Loading />;
  if (!check.may_go_live) return <p className="card">{text.notAllowed}</p>;
  return (
    <div className="studio">
      <p className="muted">{check.role ? text.role(check.role) : null}</p>
      <div className="studio-grid">
        <Broadcast communityId={communityId} session={session} stopped={stopped} />
        <Pins communityId={communityId} session={session} />
      </div>
      <div className="studio-grid">
        <Announcements communityId={communityId} />
        <Grants communityId={communityId} />
      </div>
    </div>
  );
}

type Phase = "idle" | "starting" | "live" | "reconnecting" | "failed";

const phaseText: Record<Phase, string> = {
  idle: text.connecting,
  starting: text.connecting,
  live: text.onAir,
  reconnecting: text.connectionLost,
  failed: text.failed,
};

function Broadcast({ communityId, session, stopped }: { communityId: string; session: LiveSession | null; stopped: string | null }): ReactNode {
  const { me } = useSession();
  const preview = useRef<HTMLVideoElement>(null);
  const [camera, setCamera] = useState<MediaStream | null>(null);
  const publisher = useRef<LivePublisher | null>(null);
  const [phase, setPhase] = useState<Phase>("idle");
  // The session this page publishes (a ref for the callbacks, state for rendering).
  const [publishing, setPublishing] = useState<string | null>(null);
  const [title, setTitle] = useState("");
  const [announcementId, setAnnouncementId] = useState("");
  const [invalid, setInvalid] = useState(false);
  const [announcements] = useLoad(() => http.get<Announcement[]>(`/communities/${communityId}/live/announcements`), [communityId]);

  useEffect(() => {
    if (preview.current) preview.current.srcObject = camera;
  }, [camera]);

  // The camera goes off with the page; a stream this page publishes ends with it (viewers
  // would otherwise wait on a picture that never comes back).
  const cameraRef = useRef<MediaStream | null>(null);
  cameraRef.current = camera;
  useEffect(
    () => () => {
      const current = publisher.current;
      if (current) {
        void realtime()
          .request("live:stop", { community_id: communityId, session_id: current.sessionId })
          .catch(() => undefined);
        current.close();
        publisher.current = null;
      }
      for (const track of cameraRef.current?.getTracks() ?? []) track.stop();
    },
    [communityId],
  );

  // The stream ended (stopped here, elsewhere by staff, or by the node): hang up our side.
  useEffect(() => {
    const current = publisher.current;
    if (current && (!session || session.session_id !== current.sessionId)) {
      current.close();
      publisher.current = null;
      setPublishing(null);
      setPhase("idle");
    }
  }, [session]);

  const [openCamera, opening, cameraError] = useAction(async () => {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: true });
    setCamera(stream);
    return stream;
  });

  const closeCamera = (): void => {
    for (const track of camera?.getTracks() ?? []) track.stop();
    setCamera(null);
  };

  // Restarts in a row without a connection in between; reset once media flows again.
  const restarts = useRef(0);
  const [linkError, setLinkError] = useState<unknown>(null);
  const follow = (current: LivePublisher, stream: MediaStream): void => {
    current.onState((state) => {
      if (publisher.current !== current) return;
      if (state === "connected") {
        restarts.current = 0;
        setLinkError(null);
        setPhase("live");
      }
      if (state === "failed") republish(current, stream);
    });
  };
  // aiortc cannot restart ICE in place: a new connection replaces this one under the same
  // session, and the viewers stay (docs/live.md, "ICE restart").
  const republish = (current: LivePublisher, stream: MediaStream): void => {
    if (restarts.current >= MAX_RESTARTS) {
      setPhase("failed");
      return;
    }
    restarts.current += 1;
    setPhase("reconnecting");
    const next = new LivePublisher(realtime(), communityId, current.sessionId, stream);
    publisher.current = next;
    current.close();
    follow(next, stream);
    next.publish(true).catch((error: unknown) => {
      if (publisher.current !== next) return;
      setLinkError(error);
      setPhase("failed");
    });
  };
  const retry = (): void => {
    const current = publisher.current;
    if (!current || !camera) return;
    restarts.current = 0;
    setLinkError(null);
    republish(current, camera);
  };

  const [goLive, starting, startError] = useAction(async () => {
    const trimmed = title.trim();
    if (!trimmed || trimmed.length > 100) {
      setInvalid(true);
      return;
    }
    setInvalid(false);
    let stream = camera;
    if (!stream) {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: true });
      setCamera(stream);
    }
    setPhase("starting");
    const rt = realtime();
    try {
      const started = await rt.request<{ session: LiveSession }>("live:start", {
        community_id: communityId,
        title: trimmed,
        ...(announcementId ? { announcement_id: announcementId } : {}),
      });
      const sessionId = started.session.session_id;
      const current = new LivePublisher(rt, communityId, sessionId, stream);
      publisher.current = current;
      setPublishing(sessionId);
      follow(current, stream);
      try {
        await current.publish();
      } catch (error) {
        publisher.current = null;
        setPublishing(null);
        current.close();
        await rt.request("live:stop", { community_id: communityId, session_id: sessionId }).catch(() => undefined);
        throw error;
      }
    } catch (error) {
      setPhase("idle");
      throw error;
    }
  });

  const [stop, stopping, stopError] = useAction(async (sessionId: string) => {
    if (!window.confirm(text.confirmStop)) return;
    await realtime().request("live:stop", { community_id: communityId, session_id: sessionId });
    publisher.current?.close();
    publisher.current = null;
    setPublishing(null);
    setPhase("idle");
  });

  // While `live:start` is answered, the channel may announce the stream first: it is ours.
  const ours = session !== null && (session.session_id === publishing || (phase === "starting" && session.host_id === me?.id));
  const other = session !== null && !ours;
  const onAir = ours && phase === "live";

  return (
    <section className="card studio-broadcast" aria-labelledby="studio-broadcast-title">
      <div className="row studio-status">
        <h2 id="studio-broadcast-title">{text.camera}</h2>
        <span className={onAir ? "live-badge" : "badge"} role="status">
          {onAir ? text.onAir : ours ? phaseText[phase] : text.offAir}
        </span>
        {session ? (
          <span className="badge" aria-live="polite">
            {text.viewers(session.viewers)}
          </span>
        ) : null}
      </div>
      <div className="studio-preview">
        <video ref={preview} playsInline muted autoPlay aria-label={text.camera} />
        {!camera ? <p className="muted">{text.cameraOff}</p> : null}
      </div>
      <LiveError error={cameraError} />
      {!camera ? (
        <button type="button" onClick={() => void openCamera()} disabled={opening}>
          {text.openCamera}
        </button>
      ) : !ours ? (
        <button type="button" onClick={closeCamera}>
          {text.closeCamera}
        </button>
      ) : null}
      {stopped && !session ? <p className="muted">{text.ended(live.watch.stoppedReasons[stopped] ?? stopped)}</p> : null}
      {other && session ? (
        <div className="card">
          <p>{session.host_id === me?.id ? session.title : text.otherStream(session.host_name)}</p>
          <button type="button" className="danger" disabled={stopping} onClick={() => void stop(session.session_id)}>
            {stopping ? text.stopping : text.stopOther}
          </button>
        </div>
      ) : null}
      {session === null ? (
        <form
          className="form"
          noValidate
          onSubmit={(event: FormEvent) => {
            event.preventDefault();
            void goLive();
          }}
        >
          <label htmlFor="live-title">{text.streamTitle}</label>
          <input
            id="live-title"
            value={title}
            maxLength={100}
            placeholder={text.streamTitlePlaceholder}
            aria-invalid={invalid}
            aria-describedby={invalid ? "live-title-error" : undefined}
            onChange={(event) => setTitle(event.target.value)}
          />
          {invalid ? (
            <p id="live-title-error" className="error">
              {text.titleRequired}
            </p>
          ) : null}
          <label htmlFor="live-announcement">{text.announcement}</label>
          <select id="live-announcement" value={announcementId} onChange={(event) => setAnnouncementId(event.target.value)}>
            <option value="">{text.noAnnouncement}</option>
            {(announcements ?? [])
              .filter((a) => !a.cancelled_at)
              .map((a) => (
                <option key={a.id} value={a.id}>
                  {a.title}（{when(a.starts_at)}）
                </option>
              ))}
          </select>
          <LiveError error={startError} />
          <button type="submit" className="primary" disabled={starting || phase === "starting"}>
            {starting ? text.starting : text.start}
          </button>
        </form>
      ) : null}
      {ours && session ? (
        <>
          <p>
            <strong>{session.title}</strong>
          </p>
          <LiveError error={linkError} />
          <LiveError error={stopError} />
          <div className="row">
            {phase === "failed" ? (
              <button type="button" className="primary" onClick={retry}>
                {text.republish}
              </button>
            ) : null}
            <button type="button" className="danger" disabled={stopping} onClick={() => void stop(session.session_id)}>
              {stopping ? text.stopping : text.stop}
            </button>
          </div>
        </>
      ) : null}
    </section>
  );
}

