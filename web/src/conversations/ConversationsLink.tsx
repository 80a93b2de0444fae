// The 私信 link with the unread badge, in the resident area's header next to the bell.
import { type ReactNode } from "react";
import { NavLink } from "react-router";

import { conversations as t } from "../strings";
import "./conversations.css";
import { useConversationUnread } from "./unread";

export function ConversationsLink(): ReactNode {
  const unread = useConversationUnread();
  return (
    <NavLink to="/messages" className="conv-link" aria-label={t.navLabel(unread)}>
      {t.nav}
      {unread > 0 ? (
        <span className="conv-badge" data-testid="messages-count" aria-hidden="true">
          {unread > 99 ? "99+" : unread}
        </span>
      ) : null}
    </NavLink>
  );
}
