// The channel as a live page needs it: joined with the shared ChannelFeed (chat, recovery after
// a reconnect), and the stream's state kept from the join snapshot and the `live.*` events.
import { useCallback, useEffect, useState, useSyncExternalStore } from "react";

import { ChannelFeed, type ChannelEvent, type ChannelState } from "../api/channel";
import { realtime, type ConnectionState } from "../api/realtime";
import { type LiveSession, type PinnedItem } from "./rtc";

/** A joined channel feed for the page's lifetime, with its state. */
export function useChannel(communityId: string | undefined): [ChannelFeed | null, ChannelState | null, unknown] {
  const [feed, setFeed] = useState<ChannelFeed | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (!communityId) return;
    const made = new ChannelFeed(realtime(), communityId);
    setFeed(made);
    setError(null);
    made.start().catch((e: unknown) => setError(e));
    return () => {
      made.stop();
      setFeed(null);
    };
  }, [communityId]);
  const subscribe = useCallback(
    (listener: () => void) => {
      if (!feed) return () => undefined;
      const stop = feed.subscribe(listener);
      return () => void stop();
    },
    [feed],
  );
  const state = useSyncExternalStore(subscribe, () => feed?.state ?? null);
  return [feed, state, error];
}

/** The socket's connection state ("online", "offline", …). */
export function useConnection(): ConnectionState {
  const [state, setState] = useState<ConnectionState>(realtime().state);
  useEffect(() => realtime().onState(setState), []);
  return state;
}

export interface LiveState {
  session: LiveSession | null;
  /** Why the last stream ended, while no new one runs. */
  stopped: string | null;
}

/** The channel's stream: from the join snapshot, then `live.started/pinned/viewers/stopped`.
 * Both arrive through the feed's own callbacks, so they are applied in the feed's order. */
export function useLiveSession(feed: ChannelFeed | null): LiveState {
  const [live, setLive] = useState<LiveState>({ session: null, stopped: null });
  useEffect(() => {
    if (!feed) return;
    // A fresh snapshot (first join, or a reconnect the server could not recover) is the truth.
    let seen = feed.state.snapshot;
    setLive(fromSnapshot(seen));
    const stopState = feed.subscribe(() => {
      if (feed.state.snapshot === seen) return;
      seen = feed.state.snapshot;
      setLive(fromSnapshot(seen));
    });
    const stopEvents = feed.onEvent((event) => setLive((current) => applyLive(current, event)));
    return () => {
      stopState();
      stopEvents();
    };
  }, [feed]);
  return live;
}

function fromSnapshot(snapshot: ChannelState["snapshot"]): LiveState {
  const session = (snapshot?.live as { session?: LiveSession | null } | undefined)?.session ?? null;
  return { session, stopped: null };
}

function applyLive(current: LiveState, event: ChannelEvent): LiveState {
  const data = event.data;
  if (event.type === "live.started") {
    return { session: { ...(data as unknown as LiveSession), pinned: [], viewers: 0, started_at: event.at }, stopped: null };
  }
  const session = current.session;
  if (!event.type.startsWith("live.") || !session || data.session_id !== session.session_id) return current;
  switch (event.type) {
    case "live.pinned":
      return { ...current, session: { ...session, pinned: data.items as PinnedItem[] } };
    case "live.viewers":
      return { ...current, session: { ...session, viewers: Number(data.count) } };
    case "live.stopped":
      return { session: null, stopped: String(data.reason ?? "stopped") };
    default:
      return current;
  }
}
