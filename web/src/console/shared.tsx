// What the console's pages share: the caller's roles, the community picker, the reason dialog,
// the connection badge and one ChannelFeed per community for the live pages.
import { useEffect, useRef, useState, useSyncExternalStore, type FormEvent, type ReactNode } from "react";
import { useSearchParams } from "react-router";

import { ChannelFeed, type ChannelEvent, type ChannelState } from "../api/channel";
import { ApiError, http, query } from "../api/http";
import { realtime, type ConnectionState, type Realtime } from "../api/realtime";
import { useSession, type MyCommunity } from "../session";
import { common, consoleText } from "../strings";
import { ErrorNote as CommonErrorNote } from "../ui/kit";

/** An error as a sentence: the console's own codes first, then the app's common ones. */
export function ErrorNote({ error }: { error: unknown }): ReactNode {
  if (error instanceof ApiError && error.code in consoleText.errors) {
    return (
      <p className="error" role="alert">
        {consoleText.errors[error.code]}
      </p>
    );
  }
  return <CommonErrorNote error={error} />;
}

export interface ConsoleRoles {
  staffOf: MyCommunity[];
  admin: boolean;
  service: boolean;
}

/** What the navigation may show. The API checks every action again. */
export function useRoles(): ConsoleRoles {
  const { me, communities } = useSession();
  return {
    staffOf: communities.filter((c) => c.role === "property_staff"),
    admin: me?.platform_role === "admin",
    service: me?.platform_role === "customer_service",
  };
}

/** The chosen community of the caller's staff communities, kept in the address (?c=). */
export function useStaffCommunity(): [MyCommunity | undefined, ReactNode] {
  const { staffOf } = useRoles();
  const [params, setParams] = useSearchParams();
  const chosen = staffOf.find((c) => c.id === params.get("c")) ?? staffOf[0];
  const picker =
    staffOf.length > 1 ? (
      <label className="console-picker">
        {consoleText.chooseCommunity}
        <select value={chosen?.id ?? ""} onChange={(e) => setParams({ c: e.target.value })}>
          {staffOf.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
      </label>
    ) : chosen ? (
      <span className="muted">
        {consoleText.community}：{chosen.name}
      </span>
    ) : null;
  return [chosen, picker];
}

/** A modal dialog asking for a reason (or only a confirmation when `reasonLabel` is absent). */
export function ReasonDialog({
  title,
  reasonLabel,
  confirmLabel,
  danger = true,
  extra,
  onConfirm,
  onClose,
}: {
  title: string;
  reasonLabel?: string;
  confirmLabel: string;
  danger?: boolean;
  extra?: ReactNode;
  onConfirm: (reason: string) => Promise<unknown>;
  onClose: () => void;
}): ReactNode {
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [invalid, setInvalid] = useState(false);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (reasonLabel && !reason.trim()) {
      setInvalid(true);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onConfirm(reason.trim());
      onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} className="console-dialog" aria-labelledby="console-dialog-title" onCancel={onClose}>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate>
        <h2 id="console-dialog-title">{title}</h2>
        {extra}
        {reasonLabel ? (
          <label>
            {reasonLabel}
            <textarea
              value={reason}
              maxLength={200}
              rows={3}
              aria-invalid={invalid}
              aria-describedby={invalid ? "console-dialog-invalid" : undefined}
              onChange={(e) => {
                setReason(e.target.value);
                setInvalid(false);
              }}
            />
          </label>
        ) : null}
        {invalid ? (
          <p id="console-dialog-invalid" className="error">
            {consoleText.reasonRequired}
          </p>
        ) : null}
        <ErrorNote error={error} />
        <div className="row">
          <button type="submit" className={danger ? "danger" : "primary"} disabled={busy}>
            {busy ? consoleText.busy : confirmLabel}
          </button>
          <button type="button" className="secondary" onClick={onClose} disabled={busy}>
            {common.cancel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

export function ConnectionBadge({ namespace = "/" }: { namespace?: string }): ReactNode {
  const [state, setState] = useState<ConnectionState>(realtime(namespace).state);
  useEffect(() => {
    const stop = realtime(namespace).onState(setState);
    return () => void stop();
  }, [namespace]);
  return (
    <span className={`badge connection-${state}`} role="status">
      {consoleText.connection[state]}
    </span>
  );
}

// One feed per community for the whole console: pages come and go (and React's StrictMode mounts
// twice), the channel is left only when no page has used it for a moment.
const feeds = new Map<string, { feed: ChannelFeed; rt: Realtime; users: number; leaving?: ReturnType<typeof setTimeout> }>();

function acquire(communityId: string): ChannelFeed {
  let entry = feeds.get(communityId);
  // A feed of a connection closed since (log-out) is not reused.
  if (entry && entry.rt !== realtime("/")) {
    if (entry.leaving) clearTimeout(entry.leaving);
    feeds.delete(communityId);
    entry = undefined;
  }
  if (!entry) {
    const rt = realtime("/");
    const feed = new ChannelFeed(rt, communityId);
    entry = { feed, rt, users: 0 };
    feeds.set(communityId, entry);
    void feed.start();
  }
  if (entry.leaving) clearTimeout(entry.leaving);
  entry.leaving = undefined;
  entry.users += 1;
  return entry.feed;
}

function release(communityId: string): void {
  const entry = feeds.get(communityId);
  if (!entry) return;
  entry.users -= 1;
  if (entry.users > 0) return;
  entry.leaving = setTimeout(() => {
    if (entry.users > 0) return;
    if (feeds.get(communityId) === entry) feeds.delete(communityId);
    entry.feed.stop();
  }, 2_000);
}

const NO_STATE: ChannelState = { joined: false, role: null, messages: [], online: new Map(), mutedUntil: null, snapshot: null, recoveries: 0 };

/** The community's channel, joined while the page shows it; `onEvent` sees every channel event. */
export function useChannel(communityId: string | undefined, onEvent?: (event: ChannelEvent) => void): [ChannelFeed | null, ChannelState] {
  const [feed, setFeed] = useState<ChannelFeed | null>(null);
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    if (!communityId) return undefined;
    const acquired = acquire(communityId);
    setFeed(acquired);
    const stop = acquired.onEvent((event) => handler.current?.(event));
    return () => {
      stop();
      release(communityId);
      setFeed(null);
    };
  }, [communityId]);
  const state = useSyncExternalStore(
    (listener) => (feed ? feed.subscribe(listener) : () => undefined),
    () => feed?.state ?? NO_STATE,
  );
  return [feed, state];
}

/** Names of a community's verified members (the first 100), for showing user ids as people. */
export function useMemberNames(communityId: string | undefined): Map<string, string> {
  const [names, setNames] = useState<Map<string, string>>(new Map());
  useEffect(() => {
    if (!communityId) return;
    http
      .get<{ items: Array<{ user_id: string; display_name: string }> }>(
        `/communities/${communityId}/members${query({ status: "verified", limit: 100 })}`,
      )
      .then((page) => setNames(new Map(page.items.map((m) => [m.user_id, m.display_name]))))
      .catch(() => setNames(new Map()));
  }, [communityId]);
  return names;
}

export function nameOf(names: Map<string, string>, id: string): string {
  return names.get(id) ?? `${id.slice(0, 8)}…`;
}
