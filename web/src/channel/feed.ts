// One ChannelFeed per community for the page's lifetime: switching between chat, group buys and
// the lottery (or leaving the tab and coming back) keeps the joined channel, its recovered history
// and its place in the sequence, instead of joining again from a snapshot.
import { useEffect, useSyncExternalStore } from "react";

import { ChannelFeed, type ChannelEvent, type ChannelState } from "../api/channel";
import { ApiError } from "../api/http";
import { realtime } from "../api/realtime";
import { channel, common, errorText } from "../strings";

const feeds = new Map<string, ChannelFeed>();

export function feedFor(communityId: string, me: string): ChannelFeed {
  const key = `${me}:${communityId}`;
  let feed = feeds.get(key);
  if (!feed) {
    feed = new ChannelFeed(realtime("/"), communityId, me);
    feeds.set(key, feed);
  }
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
