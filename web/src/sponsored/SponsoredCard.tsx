// The sponsored card during a live stream (docs/sponsored.md): the channel shows a slot with a
// `sponsor.show` event (or in the join snapshot while it is on screen); the card reports the
// viewer's impression once, and a click before following the link. The server counts each
// viewer once per showing, so a repeated report (a re-render, a reconnect) is harmless.
import { useEffect, useRef, useState, type ReactNode } from "react";
import { useNavigate } from "react-router";

import { type ChannelFeed } from "../api/channel";
import { http } from "../api/http";
import { sponsored } from "../strings";
import { type SponsorShow } from "./types";
import "./sponsored.css";

function expiresAt(show: SponsorShow, seenAt: number): number {
  const start = show.shown_at ? Date.parse(show.shown_at) : seenAt;
  return (Number.isFinite(start) ? start : seenAt) + show.duration_s * 1000;
}

/** The slot on screen for this stream, from the join snapshot and `sponsor.show` events. */
export function useSponsorShow(feed: ChannelFeed | null, sessionId: string | null): SponsorShow | null {
  const [show, setShow] = useState<SponsorShow | null>(null);
  useEffect(() => {
    if (!feed || !sessionId) {
      setShow(null);
      return;
    }
    const fromSnapshot = (feed.state.snapshot as { sponsored?: { showing?: SponsorShow[] } } | null)?.sponsored?.showing ?? [];
    setShow(fromSnapshot.find((s) => s.session_id === sessionId) ?? null);
    return feed.onEvent((event) => {
      if (event.type !== "sponsor.show") return;
      const data = event.data as unknown as SponsorShow;
      if (data.session_id === sessionId) setShow({ ...data, shown_at: event.at });
    });
  }, [feed, sessionId]);
  useEffect(() => {
    if (!show) return;
    const left = expiresAt(show, Date.now()) - Date.now();
    const timer = window.setTimeout(() => setShow(null), Math.max(left, 0));
    return () => window.clearTimeout(timer);
  }, [show]);
  return show;
}

export function SponsoredCard({ show, onClose }: { show: SponsorShow; onClose: () => void }): ReactNode {
  const navigate = useNavigate();
  const reported = useRef<string | null>(null);
  useEffect(() => {
    const key = `${show.slot_id}:${show.session_id}`;
    if (reported.current === key) return;
    reported.current = key;
    void http.post(`/sponsored/slots/${show.slot_id}/impressions`, { session_id: show.session_id }).catch(() => undefined);
  }, [show.slot_id, show.session_id]);
  const open = async (): Promise<void> => {
    // Counted before leaving; a lost report never blocks the viewer.
    await http.post(`/sponsored/slots/${show.slot_id}/clicks`, { session_id: show.session_id }).catch(() => undefined);
    if (show.link_url.startsWith("/")) await navigate(show.link_url);
    else window.open(show.link_url, "_blank", "noopener,noreferrer");
  };
  const s = sponsored.card;
  return (
    <aside className="card sponsor-card" aria-label={`${s.label}：${show.brand}`}>
      {show.image_url ? <img src={show.image_url} alt="" className="sponsor-image" /> : null}
      <div className="sponsor-body">
        <p className="sponsor-brand">
          <span className="tag">{s.label}</span> {show.brand}
        </p>
        <p className="sponsor-title">{show.title}</p>
        <button type="button" className="primary" onClick={() => void open()}>
          {s.open}
        </button>
      </div>
      <button type="button" className="link sponsor-close" aria-label={s.close} onClick={onClose}>
        ×
      </button>
    </aside>
  );
}

/** The card for the stream, if a slot is on screen; dismissable by the viewer. */
export function SponsoredSlot({ feed, sessionId }: { feed: ChannelFeed | null; sessionId: string }): ReactNode {
  const show = useSponsorShow(feed, sessionId);
  const [closed, setClosed] = useState<string | null>(null);
  if (!show || closed === show.slot_id) return null;
  return <SponsoredCard show={show} onClose={() => setClosed(show.slot_id)} />;
}
