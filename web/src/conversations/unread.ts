// The signed-in resident's unread private messages (the 私信 badge), one store per page: read over
// REST whenever the `/` socket (re)connects and whenever a conversation push arrives (a message,
// or a read position moved in another tab). Pushes are at most once; REST is the truth.
import { useEffect, useSyncExternalStore } from "react";

import { realtime, type Realtime } from "../api/realtime";
import { CONVERSATION_MESSAGE, CONVERSATION_READ, conversationsApi } from "./api";

let unread = 0;
const listeners = new Set<() => void>();
let started: Promise<void> | null = null;
let startedOn: Realtime | null = null;

function set(n: number): void {
  if (n === unread) return;
  unread = n;
  for (const listener of listeners) listener();
}

export function refreshConversationUnread(): void {
  conversationsApi.unread().then(
    ({ unread: n }) => set(n),
    () => undefined, // the badge keeps its last count until the next read succeeds
  );
}

function start(): Promise<void> {
  const rt = realtime("/");
  if (started && startedOn === rt) return started;
  if (startedOn !== null) set(0);
  startedOn = rt;
  started = (async () => {
    await rt.on(CONVERSATION_MESSAGE, refreshConversationUnread);
    await rt.on(CONVERSATION_READ, refreshConversationUnread);
    await rt.onConnect(refreshConversationUnread);
  })().catch(() => {
    started = null;
    refreshConversationUnread();
  });
  return started;
}

export function useConversationUnread(): number {
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
