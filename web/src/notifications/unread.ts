// The signed-in user's unread count, one store per page: the bell shows it, the list page sets it
// after marking read, and `notification:new` pushes carry it. Pushes are at most once, so it is
// read again over REST whenever the `/` socket (re)connects.
import { useEffect, useSyncExternalStore } from "react";

import { realtime, type Realtime } from "../api/realtime";
import { NOTIFICATION_NEW, notificationsApi, type NotificationPush } from "./api";

let unread = 0;
const listeners = new Set<() => void>();
const pushListeners = new Set<(push: NotificationPush) => void>();
let started: Promise<void> | null = null;
// The connection the listeners are on: a log-out closes it (closeRealtime), and the next user's
// screens get a new one, which is subscribed afresh.
let startedOn: Realtime | null = null;

export function setUnread(n: number): void {
  if (n === unread) return;
  unread = n;
  for (const listener of listeners) listener();
}

function refresh(): void {
  notificationsApi.unread().then(
    ({ unread: n }) => setUnread(n),
    () => undefined, // the bell keeps its last count; the next connection reads it again
  );
}

/** Subscribe the page to the user's notifications once (the socket lives as long as the page). */
function start(): Promise<void> {
  const rt = realtime("/");
  if (started && startedOn === rt) return started;
  if (startedOn !== null) setUnread(0); // another session's count until this one is read
  startedOn = rt;
  started = (async () => {
    await rt.on<NotificationPush>(NOTIFICATION_NEW, (push) => {
      setUnread(push.unread);
      for (const listener of pushListeners) listener(push);
    });
    await rt.onConnect(refresh);
  })().catch(() => {
    started = null; // without the socket the count still comes over REST
    refresh();
  });
  return started;
}

/** The unread count, live. */
export function useUnread(): number {
  useEffect(() => {
    void start();
  }, []);
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => unread,
  );
}

/** Calls `listener` with each pushed notification while the component is mounted. */
export function useNotificationPushes(listener: (push: NotificationPush) => void): void {
  useEffect(() => {
    void start();
    pushListeners.add(listener);
    return () => {
      pushListeners.delete(listener);
    };
  }, [listener]);
}
