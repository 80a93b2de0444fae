// The signed-in user's unread count: the bell shows it, the list page sets it after marking read,
// and `notification:new` pushes carry it.
import { useEffect } from "react";

import { unreadCounter } from "../api/unreadCounter";
import { NOTIFICATION_NEW, notificationsApi, type NotificationPush } from "./api";

const pushListeners = new Set<(push: NotificationPush) => void>();

const counter = unreadCounter(
  () => notificationsApi.unread(),
  (rt, { set }) =>
    rt.on<NotificationPush>(NOTIFICATION_NEW, (push) => {
      set(push.unread);
      for (const listener of pushListeners) listener(push);
    }),
);

export const setUnread = (n: number): void => counter.set(n);

/** The unread count, live. */
export const useUnread = (): number => counter.useCount();

/** Calls `listener` with each pushed notification while the component is mounted. */
export function useNotificationPushes(listener: (push: NotificationPush) => void): void {
  useEffect(() => {
    void counter.start();
    pushListeners.add(listener);
    return () => {
      pushListeners.delete(listener);
    };
  }, [listener]);
}
