// The community's lockers watched live: REST gives every locker, the channel's `locker.*` events
// (docs/lockers.md, "The community channel") keep doors, occupancy, faults and online state
// current. Staff open a slot for maintenance with a reason, after confirming.
import { useCallback, useEffect, useState, type ReactNode } from "react";

import { type ChannelEvent } from "../api/channel";
import { http, query } from "../api/http";
import { consoleText } from "../strings";
import { Empty, Loading, Page } from "../ui/kit";
import { ConnectionBadge, ErrorNote, ReasonDialog, useChannel, useStaffCommunity } from "./shared";

const t = consoleText.lockers;

interface Slot {
  slot_no: number;
  size: string;
  door: string;
  occupied: boolean;
  fault: string | null;
  available: boolean;
}

interface Locker {
  locker_id: string;
  community_id: string;
  name: string;
  location: string;
  online: boolean;
  last_seen_at?: string | null;
  available: number;
  slots: Slot[];
}

export function LockersPage(): ReactNode {
  const [community, picker] = useStaffCommunity();
  const [lockers, setLockers] = useState<Map<string, Locker> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [opening, setOpening] = useState<{ locker: Locker; slot: number } | null>(null);
  const [notice, setNotice] = useState("");

  const merge = useCallback((id: string, patch: Partial<Locker>) => {
    setLockers((old) => {
      const current = old?.get(id);
      const next = new Map(old ?? []);
      next.set(id, { ...(current ?? ({ locker_id: id, slots: [] } as unknown as Locker)), ...patch });
      return next;
    });
  }, []);

  const [, state] = useChannel(community?.id, (event: ChannelEvent) => {
    const id = event.data.locker_id as string;
    if (event.type === "locker.online" || event.type === "locker.state") {
      const view = event.data.locker as Locker;
      merge(id, event.type === "locker.online" ? { ...view, online: true } : view);
    } else if (event.type === "locker.offline") {
      merge(id, { online: false, last_seen_at: event.data.last_seen_at as string });
    }
  });

  useEffect(() => {
    if (!community) return;
    setLockers(null);
    setError(null);
    http.get<{ items: Locker[] }>(`/lockers${query({ community_id: community.id })}`).then(
      (list) =>
        setLockers((old) => {
          // Live events that arrived while the list loaded are newer than it: keep them.
          const next = new Map(list.items.map((l) => [l.locker_id, l]));
          for (const [id, live] of old ?? []) next.set(id, { ...next.get(id), ...live });
          return next;
        }),
      setError,
    );
  }, [community]);

  // The join snapshot's views (lockers the channel has heard from), once per snapshot.
  const snapshot = state.snapshot;
  useEffect(() => {
    const views = (snapshot?.lockers as { lockers?: Locker[] } | undefined)?.lockers ?? [];
    for (const view of views) merge(view.locker_id, view);
  }, [snapshot, merge]);

  if (!community) {
    return (
      <Page title={t.title}>
        <Empty>{consoleText.noStaffCommunity}</Empty>
      </Page>
    );
  }
  const list = lockers ? [...lockers.values()].filter((l) => l.name).sort((a, b) => a.name.localeCompare(b.name, "zh-CN")) : null;
  return (
    <Page
      title={t.title}
      actions={
        <>
          {picker}
          <ConnectionBadge />
        </>
      }
    >
      <p className="notice" role="status">
        {notice}
      </p>
      <ErrorNote error={error} />
      {list === null ? (
        error ? null : <Loading />
      ) : list.length === 0 ? (
        <Empty>{t.none}</Empty>
      ) : (
        list.map((locker) => (
          <section key={locker.locker_id} className="card" aria-labelledby={`locker-${locker.locker_id}`} data-locker={locker.locker_id}>
            <header className="row console-locker-head">
              <h2 id={`locker-${locker.locker_id}`}>{locker.name}</h2>
              <span className={`badge ${locker.online ? "verified" : "rejected"}`}>{locker.online ? t.online : t.offline}</span>
              <span className="muted">{t.available(locker.available, locker.slots.length)}</span>
              {locker.location ? (
                <span className="muted">
                  {t.location}：{locker.location}
                </span>
              ) : null}
              {!locker.online && locker.last_seen_at ? <span className="muted">{t.lastSeen(consoleText.time(locker.last_seen_at))}</span> : null}
            </header>
            <ul className="console-slots" aria-label={locker.name}>
              {[...locker.slots]
                .sort((a, b) => a.slot_no - b.slot_no)
                .map((slot) => (
                  <li key={slot.slot_no} className={`console-slot ${slot.fault ? "fault" : slot.available ? "free" : "taken"}`} data-slot={slot.slot_no}>
                    <strong>{t.slot(slot.slot_no)}</strong>
                    <span className="muted">{t.size[slot.size] ?? slot.size}</span>
                    <span data-field="door" className={slot.door === "open" ? "console-open" : undefined}>
                      {t.door[slot.door] ?? slot.door}
                    </span>
                    <span data-field="occupied">{slot.occupied ? t.occupied : t.empty}</span>
                    {slot.fault ? <span className="error">{t.fault(slot.fault)}</span> : null}
                    <span data-field="available">{slot.available ? t.free : t.taken}</span>
                    <button
                      type="button"
                      className="secondary"
                      aria-label={t.open(locker.name, slot.slot_no)}
                      onClick={() => setOpening({ locker, slot: slot.slot_no })}
                    >
                      {t.openShort}
                    </button>
                  </li>
                ))}
            </ul>
          </section>
        ))
      )}
      {opening ? (
        <ReasonDialog
          title={t.openTitle(opening.locker.name, opening.slot)}
          reasonLabel={t.openReason}
          confirmLabel={t.confirmOpen}
          onClose={() => setOpening(null)}
          onConfirm={async (reason) => {
            await http.post(`/lockers/${opening.locker.locker_id}/slots/${opening.slot}/maintenance-open`, { reason });
            setNotice(t.opened(opening.slot));
          }}
        />
      ) : null}
    </Page>
  );
}
