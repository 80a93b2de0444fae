// Small pieces the back-office screens share.
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode, type RefObject } from "react";

import { common, merchant as t } from "../strings";
import { Loading } from "../ui/kit";
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

/**
 * A list shown as a table: loading (or, after a failed first load, nothing or a retry button), the
 * empty sentence, or the column headings over the rows the caller renders.
 */
export function ListTable({
  rows,
  error,
  onRetry,
  empty,
  className,
  columns,
  children,
}: {
  rows: readonly unknown[] | null | undefined;
  error: unknown;
  onRetry?: () => void;
  empty: string;
  className: string;
  columns: string[];
  children: ReactNode;
}): ReactNode {
  if (!rows) {
    if (!error) return <Loading />;
    return onRetry ? <button type="button" onClick={onRetry}>{common.retry}</button> : null;
  }
  if (rows.length === 0) return <p className="muted empty">{empty}</p>;
  return (
    <table className={className}>
      <thead>
        <tr>
          {columns.map((column, i) => (
            <th key={i} scope="col">{column}</th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}

/** The status chips over a list: "all" (the empty status) first, the pressed one is the filter. */
export function StatusFilter<S extends string>({
  statuses,
  value,
  onChange,
  label,
}: {
  statuses: readonly S[];
  value: S | "";
  onChange: (status: S | "") => void;
  label: (status: S) => ReactNode;
}): ReactNode {
  return (
    <div className="filters" role="group" aria-label={t.orders.filter}>
      {(["", ...statuses] as const).map((f) => (
        <button
          key={f || "all"}
          type="button"
          className={f === value ? "chip-button active" : "chip-button"}
          aria-pressed={f === value}
          onClick={() => onChange(f)}
        >
          {f ? label(f) : t.orders.all}
        </button>
      ))}
    </div>
  );
}

/** A ref for a native <dialog> that opens modal (focus kept inside) on mount and closes on unmount. */
export function useModal(): RefObject<HTMLDialogElement | null> {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return ref;
}

/**
 * A modal form asking the reason a buyer is told (rejecting, refunding); `onSubmit` is given the
 * trimmed reason and its error is shown in the dialog.
 */
export function ReasonDialog({
  heading,
  summary,
  hint,
  reasonLabel,
  optional = false,
  requiredMessage,
  maxLength,
  submitLabel,
  onClose,
  onSubmit,
}: {
  heading: string;
  summary: ReactNode;
  hint: string;
  reasonLabel: string;
  optional?: boolean;
  requiredMessage: string;
  maxLength: number;
  submitLabel: string;
  onClose: () => void;
  onSubmit: (reason: string) => Promise<void>;
}): ReactNode {
  const ref = useModal();
  const headingId = useId();
  const reasonId = useId();
  const [reason, setReason] = useState("");
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setTouched(true);
    if (!optional && !reason.trim()) return;
    setBusy(true);
    setError(null);
    try {
      await onSubmit(reason.trim());
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  const missing = touched && !optional && !reason.trim();
  return (
    <dialog ref={ref} className="dialog" aria-labelledby={headingId} onClose={onClose} onCancel={onClose}>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate>
        <h2 id={headingId}>{heading}</h2>
        <p>{summary}</p>
        <p className="muted">{hint}</p>
        <div className="field">
          <label htmlFor={reasonId}>{reasonLabel}</label>
          <textarea
            id={reasonId}
            value={reason}
            maxLength={maxLength}
            rows={3}
            onChange={(e) => setReason(e.target.value)}
            aria-invalid={missing || undefined}
            aria-describedby={missing ? `${reasonId}-error` : undefined}
          />
          {missing ? <span id={`${reasonId}-error`} className="error small">{requiredMessage}</span> : null}
        </div>
        <Problem error={error} />
        <div className="row">
          <button type="button" onClick={onClose} disabled={busy}>{common.cancel}</button>
          <button type="submit" className="danger" disabled={busy}>{submitLabel}</button>
        </div>
      </form>
    </dialog>
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
