// One ChannelFeed per community for the page's lifetime: switching between chat, group buys and
// the lottery (or leaving the tab and coming back) keeps the joined channel, its recovered history
// and its place in the sequence, instead of joining again from a snapshot.
import { useEffect, useSyncExternalStore } from "react";

import { ChannelFeed, type ChannelEvent, type ChannelState, type Snapshot } from "../api/channel";
import { ApiError } from "../api/http";
import { realtime, type Realtime } from "../api/realtime";
import { channel, common, errorText } from "../strings";

const feeds = new Map<string, { feed: ChannelFeed; rt: Realtime }>();

export function feedFor(communityId: string, me: string): ChannelFeed {
  const key = `${me}:${communityId}`;
  const rt = realtime("/");
  let entry = feeds.get(key);
  // A feed of a connection closed since (log-out, then in again) is not reused.
  if (!entry || entry.rt !== rt) {
    entry = { feed: new ChannelFeed(rt, communityId, me), rt };
    feeds.set(key, entry);
  }
  const feed = entry.feed;
  void feed.start();
  return feed;
}

/** The feed's state, re-rendering on every change. */
export function useFeedState(feed: ChannelFeed): ChannelState {
  return useSyncExternalStore(
    (listener) => feed.subscribe(listener),
    () => feed.state,
  );
}

/** Run `listener` for each channel event while the component is mounted. */
export function useChannelEvents(feed: ChannelFeed, listener: (event: ChannelEvent) => void, deps: unknown[]): void {
  useEffect(
    () => feed.onEvent(listener),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [feed, ...deps],
  );
}

/** The sentence for a channel or REST error. */
export function channelError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === "network") return common.errors.network;
    return channel.errors[error.code] ?? errorText(error.code, error.message);
  }
  if (typeof error === "string") return channel.errors[error] ?? errorText(error);
  return common.errors.unknown;
}

const timeFormat = new Intl.DateTimeFormat("zh-CN", { hour: "2-digit", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat("zh-CN", { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });

export function clock(iso: string): string {
  return timeFormat.format(new Date(iso));
}

export function when(iso: string): string {
  return dateTimeFormat.format(new Date(iso));
}

/**
 * A feature's state (group buys, draws) kept beside its feed, outside React: set from each join
 * snapshot and advanced by each event, synchronously and in the feed's order. (Doing this in
 * component effects would let a late snapshot effect overwrite an event applied after it.)
 */
export class FeatureStore<S> {
  private readonly listeners = new Set<() => void>();
  private seen: Snapshot | null = null;
  state: S;

  constructor(
    feed: ChannelFeed,
    initial: S,
    fromSnapshot: (snapshot: Snapshot, before: S) => S,
    reduce: (state: S, event: ChannelEvent) => S,
  ) {
    this.state = initial;
    const takeSnapshot = (): void => {
      const snapshot = feed.state.snapshot;
      if (snapshot && snapshot !== this.seen) {
        this.seen = snapshot;
        this.set(fromSnapshot(snapshot, this.state));
      }
    };
    takeSnapshot();
    feed.subscribe(takeSnapshot);
    feed.onEvent((event) => this.set(reduce(this.state, event)));
  }

  update(change: (state: S) => S): void {
    this.set(change(this.state));
  }

  private set(state: S): void {
    if (state === this.state) return;
    this.state = state;
    for (const listener of this.listeners) listener();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** One store per feed and feature, made on first use and kept with the feed. */
export function storeOf<S>(feed: ChannelFeed, key: string, make: () => FeatureStore<S>): FeatureStore<S> {
  let stores = featureStores.get(feed);
  if (!stores) {
    stores = new Map();
    featureStores.set(feed, stores);
  }
  let store = stores.get(key) as FeatureStore<S> | undefined;
  if (!store) {
    store = make();
    stores.set(key, store);
  }
  return store;
}

const featureStores = new WeakMap<ChannelFeed, Map<string, FeatureStore<unknown>>>();

export function useStore<S>(store: FeatureStore<S>): S {
  return useSyncExternalStore(
    (listener) => store.subscribe(listener),
    () => store.state,
  );
}
