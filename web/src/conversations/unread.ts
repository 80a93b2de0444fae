// The signed-in resident's unread private messages (the 私信 badge): read again whenever a
// conversation push arrives (a message, or a read position moved in another tab).
import { unreadCounter } from "../api/unreadCounter";
import { CONVERSATION_MESSAGE, CONVERSATION_READ, conversationsApi } from "./api";

const counter = unreadCounter(
  () => conversationsApi.unread(),
  async (rt, { refresh }) => {
    await rt.on(CONVERSATION_MESSAGE, refresh);
    await rt.on(CONVERSATION_READ, refresh);
  },
);

export const refreshConversationUnread = (): void => counter.refresh();

export const useConversationUnread = (): number => counter.useCount();
