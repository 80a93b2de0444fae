// One order: its steps as a timeline, the moves the resident's side may take now, locker codes
// for a self-pickup, and the rating once it is completed.
import { useRef, useState, type ReactNode } from "react";
import { Link, useParams } from "react-router";

import { http } from "../api/http";
import { useSession } from "../session";
import { common, resident } from "../strings";
import { Loading, Page, useAction, useLoad } from "../ui/kit";
import { DiscountLines } from "./DiscountLines";
import { InvoicePanel } from "./InvoicePanel";
import { LockerPanel } from "./LockerPanel";
import { fenOf } from "./money";
import { movesOf, stepsOf, type Move, type Side } from "./orderSteps";
import { type Order, type Rating } from "./types";
import { usePoll } from "./usePoll";
import { useBriefNotice, useOrderUpdates } from "./useOrderUpdates";
import { ResidentError } from "./ResidentError";

const FOLLOW_MS = 120_000;

// Paid and on its way or done: a merchant order the buyer may ask an invoice for.
const INVOICEABLE = new Set(["paid", "confirmed", "handed_over", "delivered", "picked_up", "returned", "completed"]);

export function OrderPage(): ReactNode {
  const { id = "" } = useParams();
  const { me } = useSession();
  const [order, error, reload] = useLoad(() => http.get<Order>(`/orders/${id}`), [id]);
  // After a locker door opens the order moves when the device reports it: follow it a while.
  const [awaiting, setAwaiting] = useState<{ until: string[]; since: number } | null>(null);
  const following = awaiting !== null && !!order && !awaiting.until.includes(order.status) && Date.now() - awaiting.since < FOLLOW_MS;
  usePoll(following, reload, 1000);
  // The other side's moves arrive as pushes (docs/protocol.md, "Pushes to a user"). Our own move
  // is pushed to us too: not announced while it is in flight, nor once we hold its result (same
  // status, not newer: the status counts as well, as quick moves may share a timestamp).
  const [updated, showUpdated] = useBriefNotice();
  const moving = useRef(false);
  const ownMove = useRef<Order | null>(null);
  useOrderUpdates((update) => {
    if (update.order_id !== id) return;
    reload();
    const at = Date.parse(update.updated_at);
    const known = [order, ownMove.current].some((held) => held && held.status === update.status && at <= Date.parse(held.updated_at));
    if (!moving.current && !known) showUpdated();
  }, reload);
  const o = resident.order;
  if (error) {
    return (
      <Page title={o.title}>
        <ResidentError error={error} />
      </Page>
    );
  }
  if (!order) return <Loading />;
  const side: Side = order.buyer_id === me?.id ? "buyer" : "seller";
  return (
    <Page title={o.title}>
      <p className="notice live-notice" role="status">
        {updated ? o.updated : null}
      </p>
      <div className="card">
        <p className="row">
          <Link to={`/listings/${order.listing_id}`} className="grow">
            {order.title}
          </Link>
          <span className={`badge status-${order.status}`}>{o.statuses[order.status] ?? order.status}</span>
        </p>
        <dl className="facts">
          <dt>{o.modes[order.mode]}</dt>
          <dd>
            {o.you[side]} · {o.fulfilments[order.fulfilment]}
          </dd>
          <dt>{o.price}</dt>
          <dd>
            {common.yuan(order.price_fen)}
            {order.days ? `（${o.rentTotal(order.rent_per_day_fen ?? 0, order.days)}）` : ""}
          </dd>
          <DiscountLines order={order} />
          {order.deposit_fen ? (
            <>
              <dt>{o.deposit}</dt>
              <dd>{common.yuan(order.deposit_fen)}</dd>
            </>
          ) : null}
          {order.due_at ? (
            <>
              <dt>{o.due}</dt>
              <dd>
                {resident.time(order.due_at)}
                {order.overdue_at ? <span className="error">（{o.overdue}）</span> : null}
              </dd>
            </>
          ) : null}
          {order.late_fee_fen ? (
            <>
              <dt>{o.lateFee}</dt>
              <dd>{common.yuan(order.late_fee_fen)}</dd>
            </>
          ) : null}
          {order.damage_fen ? (
            <>
              <dt>{o.damage}</dt>
              <dd>{common.yuan(order.damage_fen)}</dd>
            </>
          ) : null}
          <dt>{o.createdAt}</dt>
          <dd>{resident.time(order.created_at)}</dd>
        </dl>
      </div>
      <Timeline order={order} />
      <Waiting order={order} side={side} />
      {side === "buyer" && order.status === "created" ? (
        <Link to={`/orders/${order.id}/pay`} className="button-link primary wide">
          {o.actions.pay}
        </Link>
      ) : null}
      {side === "buyer" && order.fulfilment === "self_pickup" && order.mode !== "sale" ? <LockerPanel order={order} onMoved={(until) => setAwaiting({ until, since: Date.now() })} /> : null}
      <Moves
        order={order}
        side={side}
        moving={moving}
        onDone={(moved) => {
          ownMove.current = moved;
          reload();
        }}
      />
      {order.status === "completed" ? <RatingForm order={order} /> : null}
      {side === "buyer" && order.merchant_id && INVOICEABLE.has(order.status) ? <InvoicePanel order={order} /> : null}
    </Page>
  );
}

function Timeline({ order }: { order: Order }): ReactNode {
  const steps = stepsOf(order);
  return (
    <section aria-labelledby="timeline" className="card">
      <h2 id="timeline">{resident.order.timeline}</h2>
      <ol className="timeline">
        {steps.map((step) => (
          <li key={step.status} className={`step ${step.state}`} aria-current={step.state === "current" ? "step" : undefined}>
            <span className="dot" aria-hidden="true" />
            <span className="grow">{resident.order.steps[step.status] ?? step.status}</span>
            {step.at ? <time dateTime={step.at}>{resident.time(step.at)}</time> : null}
          </li>
        ))}
      </ol>
    </section>
  );
}

function Waiting({ order, side }: { order: Order; side: Side }): ReactNode {
  const w = resident.order.waiting;
  const s = order.status;
  let text: string | null = null;
  if (s === "created" && side === "seller") text = w.created;
  if ((s === "paid" || s === "confirmed") && side === "buyer") text = w.paidBuyer;
  if ((s === "paid" || s === "confirmed") && side === "seller") text = w.paidSeller;
  if ((s === "handed_over" || s === "delivered") && side === "buyer") text = w.handedOverBuyer;
  if (s === "picked_up" && side === "buyer") text = w.pickedUpBuyer;
  if (s === "returned" && side === "buyer") text = w.returnedBuyer;
  if (s === "refund_requested") text = w.refundRequested;
  return text ? <p className="notice">{text}</p> : null;
}

const LABELS: Record<Move, { label: string; confirm?: string; danger?: boolean }> = {
  cancel: { label: resident.order.actions.cancel, confirm: resident.order.actions.cancelConfirm, danger: true },
  "request-refund": { label: resident.order.actions.requestRefund, confirm: resident.order.actions.refundConfirm, danger: true },
  "confirm-receipt": { label: resident.order.actions.confirmReceipt, confirm: resident.order.actions.receiptConfirm },
  "hand-over": { label: resident.order.actions.handOver },
  "pick-up": { label: resident.order.actions.pickUp },
  return: { label: resident.order.actions.returnIt },
  complete: { label: resident.order.actions.complete },
  reject: { label: resident.order.actions.reject, confirm: resident.order.actions.rejectConfirm, danger: true },
};

function Moves({ order, side, moving, onDone }: { order: Order; side: Side; moving: { current: boolean }; onDone: (moved: Order) => void }): ReactNode {
  const [damage, setDamage] = useState("");
  const damageFen = damage.trim() ? fenOf(damage) : 0;
  const [move, busy, error] = useAction(async (m: Move) => {
    const spec = LABELS[m];
    if (spec.confirm && !window.confirm(spec.confirm)) return;
    // Completing a rental: the computed late fee is kept; agreed damages come off the deposit too.
    const body = m === "complete" && damageFen ? { damage_fen: damageFen } : {};
    moving.current = true;
    let moved: Order;
    try {
      moved = await http.post<Order>(`/orders/${order.id}/${m}`, body);
    } finally {
      moving.current = false;
    }
    onDone(moved);
  });
  const moves = movesOf(order, side);
  if (moves.length === 0) return <ResidentError error={error} />;
  const o = resident.order;
  return (
    <div className="actions">
      <ResidentError error={error} />
      {moves.includes("complete") ? (
        <label htmlFor="damage" className="wide field">
          {o.damageInput}
          <input
            id="damage"
            inputMode="decimal"
            value={damage}
            aria-invalid={damageFen === null}
            aria-describedby={damageFen === null ? "damage-error" : undefined}
            onChange={(e) => setDamage(e.target.value)}
          />
          {damageFen === null ? (
            <span id="damage-error" className="error">
              {resident.publish.moneyError}
            </span>
          ) : null}
        </label>
      ) : null}
      {moves.map((m) => (
        <button
          key={m}
          type="button"
          className={LABELS[m].danger ? "danger" : "primary"}
          disabled={busy || (m === "complete" && damageFen === null)}
          onClick={() => void move(m)}
        >
          {LABELS[m].label}
        </button>
      ))}
    </div>
  );
}

function RatingForm({ order }: { order: Order }): ReactNode {
  const { me } = useSession();
  const [ratings, error, reload] = useLoad(() => http.get<Rating[]>(`/orders/${order.id}/ratings`), [order.id]);
  const [score, setScore] = useState(5);
  const [comment, setComment] = useState("");
  const [rate, busy, rateError] = useAction(async () => {
    await http.post(`/orders/${order.id}/ratings`, { score, comment: comment.trim() });
    reload();
  });
  const o = resident.order;
  const mine = ratings?.find((r) => r.rater_id === me?.id);
  return (
    <section aria-labelledby="rating" className="card">
      <h2 id="rating">{mine ? o.ratings : o.rate}</h2>
      <ResidentError error={error} />
      {ratings?.map((r) => (
        <p key={r.rater_id}>
          <span aria-label={o.stars(r.score)}>{"★".repeat(r.score)}</span> {r.comment}
          {r.rater_id === me?.id ? <span className="muted">（{o.rated}）</span> : null}
        </p>
      ))}
      {ratings && !mine ? (
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            void rate();
          }}
        >
          <fieldset className="choices stars">
            <legend>{o.score}</legend>
            {[1, 2, 3, 4, 5].map((n) => (
              <label key={n} className="choice">
                <input type="radio" name="score" value={n} checked={score === n} onChange={() => setScore(n)} />
                {o.stars(n)}
              </label>
            ))}
          </fieldset>
          <label htmlFor="rating-comment">
            {o.comment}
            <textarea id="rating-comment" rows={2} maxLength={500} value={comment} onChange={(e) => setComment(e.target.value)} />
          </label>
          <ResidentError error={rateError} />
          <button type="submit" className="primary" disabled={busy}>
            {o.submitRating}
          </button>
        </form>
      ) : null}
    </section>
  );
}
