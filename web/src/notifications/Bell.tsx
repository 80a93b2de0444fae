// The bell with the unread badge, in the header of each area; it links to the area's list.
import { type ReactNode } from "react";
import { NavLink } from "react-router";

import { notifications as t } from "../strings";
import "./notifications.css";
import { useUnread } from "./unread";

export function Bell({ to, label }: { to: string; label?: string }): ReactNode {
  const unread = useUnread();
  return (
    <NavLink to={to} className="bell" aria-label={t.bell(unread)}>
      <svg aria-hidden="true" viewBox="0 0 24 24" width="20" height="20" focusable="false">
        <path
          d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1Z"
          fill="currentColor"
        />
      </svg>
      {label ? <span className="bell-label">{label}</span> : null}
      {unread > 0 ? (
        <span className="bell-badge" data-testid="bell-count" aria-hidden="true">
          {unread > 99 ? "99+" : unread}
        </span>
      ) : null}
    </NavLink>
  );
}
