// Smart-locker codes for a self-pickup order (docs/lockers.md): the pickup code of a paid order
// whose item waits in a locker, and a return code for a running rental that started at one.
import { useState, type ReactNode } from "react";

import { ApiError, http, query } from "../api/http";
import { useSession } from "../session";
import { resident } from "../strings";
import { useAction, useLoad } from "../ui/kit";
import { type Locker, type LockerCode, type Order } from "./types";
import { ResidentError } from "./ResidentError";

/** Told when a door opened: the order moves once the locker reports it, to one of `until`. */
type Opened = (until: string[]) => void;

export function LockerPanel({ order, onMoved }: { order: Order; onMoved: Opened }): ReactNode {
  if (order.status === "paid" || order.status === "confirmed") return <Pickup order={order} onMoved={onMoved} />;
  if (order.mode === "rental" && order.status === "picked_up") return <Return order={order} onMoved={onMoved} />;
  return null;
}

function Pickup({ order, onMoved }: { order: Order; onMoved: Opened }): ReactNode {
  const [code, setCode] = useState<LockerCode | null>(null);
  const [absent, setAbsent] = useState(false);
  const [issue, busy, error] = useAction(async () => {
    try {
      setCode(await http.post<LockerCode>("/lockers/pickups", { order_id: order.id }));
    } catch (e) {
      if (e instanceof ApiError && e.code === "not_in_locker") setAbsent(true);
      else throw e;
    }
  });
  const t = resident.locker;
  return (
    <section className="card locker" aria-labelledby="locker-pickup">
      <h2 id="locker-pickup">{t.title}</h2>
      {absent ? <p className="muted">{t.notInLocker}</p> : null}
      {code ? (
        <CodeCard code={code} openLabel={t.open} onOpened={() => onMoved(["picked_up", "delivered", "completed"])} />
      ) : !absent ? (
        <button type="button" className="secondary" disabled={busy} onClick={() => void issue()}>
          {t.get}
        </button>
      ) : null}
      <ResidentError error={error} />
    </section>
  );
}

function Return({ order, onMoved }: { order: Order; onMoved: Opened }): ReactNode {
  const { communities } = useSession();
  const community = communities.find((c) => c.status === "verified");
  const [lockers, error] = useLoad(
    () => (community ? http.get<{ items: Locker[] }>(`/lockers${query({ community_id: community.id })}`) : Promise.resolve({ items: [] })),
    [community?.id],
  );
  const [lockerId, setLockerId] = useState("");
  const [code, setCode] = useState<LockerCode | null>(null);
  const [absent, setAbsent] = useState(false);
  const [issue, busy, issueError] = useAction(async () => {
    try {
      setCode(await http.post<LockerCode>(`/lockers/${lockerId}/returns`, { order_id: order.id, size: "S" }));
    } catch (e) {
      if (e instanceof ApiError && e.code === "not_in_locker") setAbsent(true);
      else throw e;
    }
  });
  const t = resident.locker;
  const usable = lockers?.items.filter((l) => l.online && l.available > 0) ?? [];
  return (
    <section className="card locker" aria-labelledby="locker-return">
      <h2 id="locker-return">{t.returnTitle}</h2>
      <ResidentError error={error ?? issueError} />
      {absent ? <p className="muted">{t.notInLocker}</p> : null}
      {code ? <CodeCard code={code} openLabel={t.openReturn} onOpened={() => onMoved(["completed"])} /> : null}
      {!code && !absent && lockers ? (
        usable.length === 0 ? (
          <p className="muted">{t.noLockers}</p>
        ) : (
          <div className="row">
            <label className="sr-only" htmlFor="return-locker">
              {t.chooseLocker}
            </label>
            <select id="return-locker" value={lockerId} onChange={(e) => setLockerId(e.target.value)}>
              <option value="">{t.chooseLocker}</option>
              {usable.map((l) => (
                <option key={l.locker_id} value={l.locker_id}>
                  {l.name} {l.location}
                </option>
              ))}
            </select>
            <button type="button" className="secondary" disabled={busy || !lockerId} onClick={() => void issue()}>
              {t.getReturn}
            </button>
          </div>
        )
      ) : null}
    </section>
  );
}

/** The code to enter at the locker, and opening the door from the phone (as after scanning the
 * locker's QR code); the order moves once the locker reports the door opened. */
function CodeCard({ code, openLabel, onOpened }: { code: LockerCode; openLabel: string; onOpened: () => void }): ReactNode {
  const [opened, setOpened] = useState(false);
  const [open, busy, error] = useAction(async () => {
    await http.post(`/lockers/${code.locker_id}/open`, { code: code.code });
    setOpened(true);
    onOpened();
  });
  const t = resident.locker;
  return (
    <div className="locker-code">
      <p className="muted">
        {t.code} · {t.slot(code.slot_no)}
      </p>
      <p className="code">
        <span className="sr-only">{t.code}：</span>
        {code.code}
      </p>
      <p className="muted small">{t.expires(resident.time(code.expires_at))}</p>
      {opened ? (
        <p className="notice" role="status">
          {t.opened}
        </p>
      ) : (
        <button type="button" className="primary" disabled={busy} onClick={() => void open()}>
          {openLabel}
        </button>
      )}
      <ResidentError error={error} />
    </div>
  );
}
