// Small pieces the back-office screens share.
import { type ReactNode } from "react";

import { common, merchant as t } from "../strings";
import { merchantError } from "./api";

/** An API error as the back office's sentence (announced to screen readers). */
export function Problem({ error }: { error: unknown }): ReactNode {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {merchantError(error)}
    </p>
  );
}

/** The "load more" button under a paged list, shown while the list has a next page. */
export function LoadMore({ more, busy, onMore }: { more: boolean; busy: boolean; onMore: () => void }): ReactNode {
  if (!more) return null;
  return (
    <p>
      <button type="button" onClick={onMore} disabled={busy}>
        {busy ? common.loading : t.orders.more}
      </button>
    </p>
  );
}

/** A status pill; `tone` picks the colour class from styles.css / merchant.css. */
export function Pill({ tone, children }: { tone: string; children: ReactNode }): ReactNode {
  return <span className={`badge ${tone}`}>{children}</span>;
}

export const STATUS_TONE: Record<string, string> = {
  draft: "",
  submitted: "pending",
  resubmitted: "pending",
  approved: "verified",
  rejected: "rejected",
  created: "",
  paid: "pending",
  refund_requested: "rejected",
  confirmed: "verified",
  completed: "verified",
  cancelled: "",
  refunded: "",
};
