// A page-wide unread count (the bell, the 私信 badge): one store per page, read over REST whenever
// the `/` socket (re)connects, and kept current by the pushes `subscribe` listens to. Pushes are
// at most once, so REST is the truth.
import { useEffect, useSyncExternalStore } from "react";

import { realtime, type Realtime } from "./realtime";

export interface UnreadCounter {
  /** Sets the count (after marking read, or from a push that carries it). */
  set(n: number): void;
  /** Reads the count again over REST. */
  refresh(): void;
  /** Subscribes the page once (the socket lives as long as the page). */
  start(): Promise<void>;
  /** The count, live. */
  useCount(): number;
}

export function unreadCounter(
  read: () => Promise<{ unread: number }>,
  subscribe: (rt: Realtime, counter: UnreadCounter) => Promise<unknown>,
): UnreadCounter {
  let unread = 0;
  const listeners = new Set<() => void>();
  let started: Promise<void> | null = null;
  // The connection the listeners are on: a log-out closes it (closeRealtime), and the next user's
  // screens get a new one, which is subscribed afresh.
  let startedOn: Realtime | null = null;

  const counter: UnreadCounter = {
    set(n) {
      if (n === unread) return;
      unread = n;
      for (const listener of listeners) listener();
    },
    refresh() {
      read().then(
        ({ unread: n }) => counter.set(n),
        () => undefined, // the badge keeps its last count; the next connection reads it again
      );
    },
    start() {
      const rt = realtime("/");
      if (started && startedOn === rt) return started;
      if (startedOn !== null) counter.set(0); // another session's count until this one is read
      startedOn = rt;
      started = (async () => {
        await subscribe(rt, counter);
        await rt.onConnect(counter.refresh);
      })().catch(() => {
        started = null; // without the socket the count still comes over REST
        counter.refresh();
      });
      return started;
    },
    useCount() {
      useEffect(() => {
        void counter.start();
      }, []);
      return useSyncExternalStore(
        (listener) => {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
        () => unread,
      );
    },
  };
  return counter;
}
