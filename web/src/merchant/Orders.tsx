// Orders (订单管理): the merchant's orders by status, new ones arriving live over /merchant (the
// shell counts them on the 订单 badge and rings), and the merchant's moves: confirm, reject with a
// reason (the buyer's money goes back), grant a refund request, hand over, pick-up and return.
//
// API: GET /merchants/{id}/orders?status=&cursor=, GET /orders/{id}, POST /orders/{id}/<move>.
import { useCallback, useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from "react";

import { http, query } from "../api/http";
import { common, merchant as t } from "../strings";
import { Loading, Money, Page } from "../ui/kit";
import { localTime, type Order, type OrderPush, type OrderStatus, type Page as ApiPage } from "./api";
import { useMerchant } from "./context";
import { Pill, Problem, STATUS_TONE } from "./parts";

const FILTERS: (OrderStatus | "")[] = [
  "",
  "paid",
  "refund_requested",
  "confirmed",
  "created",
  "handed_over",
  "delivered",
  "picked_up",
  "returned",
  "completed",
  "cancelled",
  "refunded",
];

type Move = "confirm" | "reject" | "hand-over" | "pick-up" | "return" | "complete";

function movesFor(order: Order): Move[] {
  switch (order.status) {
    case "paid":
      return ["confirm", "reject"];
    case "confirmed":
      return [order.mode === "rental" ? "pick-up" : "hand-over", "reject"];
    case "refund_requested":
      return ["reject"];
    case "picked_up":
      return ["return"];
    case "returned":
      return ["complete"];
    default:
      return [];
  }
}

function moveLabel(move: Move, order: Order): string {
  switch (move) {
    case "confirm":
      return t.orders.confirm;
    case "reject":
      return order.status === "paid" ? t.orders.reject : order.status === "refund_requested" ? t.orders.approveRefund : t.orders.refund;
    case "hand-over":
      return t.orders.handOver;
    case "pick-up":
      return t.orders.pickUp;
    case "return":
      return t.orders.return;
    case "complete":
      return t.orders.complete;
  }
}

/** A row made from a push, shown at once; the full order replaces it when GET /orders/{id} answers. */
function fromPush(push: OrderPush, existing: Order | undefined): Order {
  return {
    id: push.order_id,
    mode: push.mode,
    status: push.status,
    listing_id: existing?.listing_id ?? "",
    buyer_id: existing?.buyer_id,
    merchant_id: push.merchant_id,
    fulfilment: existing?.fulfilment ?? "",
    title: push.title,
    price_fen: push.price_fen,
    deposit_fen: push.deposit_fen,
    days: existing?.days ?? null,
    created_at: existing?.created_at ?? new Date().toISOString(),
    paid_at: existing?.paid_at ?? null,
  };
}

export function OrdersPage(): ReactNode {
  const { merchant, unread, markRead, onLive, onReconnect } = useMerchant();
  const [filter, setFilter] = useState<OrderStatus | "">("");
  const [orders, setOrders] = useState<Order[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [dialog, setDialog] = useState<Order | null>(null);
  const filterRef = useRef(filter);
  filterRef.current = filter;
  // Orders pushed while a list request is in flight: its answer may predate them, so they are laid
  // over it rather than lost (a reload on reconnect races the pushes that follow it).
  const pushed = useRef(new Map<string, { at: number; order: Order }>());

  const load = useCallback(async () => {
    setError(null);
    const started = performance.now();
    try {
      const page = await http.get<ApiPage<Order>>(`/merchants/${merchant.id}/orders${query({ status: filter, limit: 20 })}`);
      const items = [...page.items];
      for (const { at, order } of pushed.current.values()) {
        if (at < started) continue;
        const i = items.findIndex((o) => o.id === order.id);
        if (filter !== "" && order.status !== filter) {
          if (i >= 0) items.splice(i, 1);
        } else if (i >= 0) items[i] = order;
        else items.unshift(order);
      }
      setOrders(items);
      setCursor(page.next_cursor);
    } catch (e) {
      setError(e);
    }
  }, [merchant.id, filter]);

  useEffect(() => {
    setOrders(null);
    void load();
  }, [load]);

  // REST is the truth after a reconnect: pushes sent while offline are gone.
  useEffect(() => onReconnect(() => void load()), [onReconnect, load]);

  const upsert = useCallback((order: Order) => {
    const seen = pushed.current.get(order.id);
    if (seen) seen.order = order;
    setOrders((prev) => {
      if (!prev) return prev;
      const wanted = filterRef.current === "" || filterRef.current === order.status;
      const rest = prev.filter((o) => o.id !== order.id);
      if (!wanted) return rest;
      const at = prev.findIndex((o) => o.id === order.id);
      if (at >= 0) {
        const next = [...prev];
        next[at] = order;
        return next;
      }
      return [order, ...rest];
    });
  }, []);

  useEffect(
    () =>
      onLive(({ push }) => {
        pushed.current.set(push.order_id, { at: performance.now(), order: fromPush(push, pushed.current.get(push.order_id)?.order) });
        setOrders((prev) => {
          if (!prev) return prev;
          const existing = prev.find((o) => o.id === push.order_id);
          const order = fromPush(push, existing);
          const wanted = filterRef.current === "" || filterRef.current === order.status;
          const rest = prev.filter((o) => o.id !== order.id);
          if (!wanted) return rest;
          return existing ? prev.map((o) => (o.id === order.id ? order : o)) : [order, ...rest];
        });
        http.get<Order>(`/orders/${push.order_id}`).then(upsert, (e: unknown) => console.warn("order refresh failed", e));
      }),
    [onLive, upsert],
  );

  const more = async (): Promise<void> => {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const page = await http.get<ApiPage<Order>>(
        `/merchants/${merchant.id}/orders${query({ status: filter, limit: 20, cursor })}`,
      );
      setOrders((prev) => [...(prev ?? []), ...page.items.filter((o) => !prev?.some((p) => p.id === o.id))]);
      setCursor(page.next_cursor);
    } catch (e) {
      setError(e);
    } finally {
      setLoadingMore(false);
    }
  };

  const acted = (order: Order): void => {
    markRead(order.id);
    upsert(order);
  };

  return (
    <Page
      title={t.orders.title}
      actions={
        unread.size > 0 ? (
          <button type="button" onClick={() => markRead()}>{t.orders.markRead}</button>
        ) : null
      }
    >
      <div className="filters" role="group" aria-label={t.orders.filter}>
        {FILTERS.map((f) => (
          <button
            key={f || "all"}
            type="button"
            className={f === filter ? "chip-button active" : "chip-button"}
            aria-pressed={f === filter}
            onClick={() => setFilter(f)}
          >
            {f ? t.orders.statuses[f] : t.orders.all}
          </button>
        ))}
      </div>
      <Problem error={error} />
      {!orders ? (
        error ? null : <Loading />
      ) : orders.length === 0 ? (
        <p className="muted empty">{t.orders.empty}</p>
      ) : (
        <table className="orders-table">
          <thead>
            <tr>
              <th scope="col">{t.orders.columns.title}</th>
              <th scope="col">{t.orders.columns.mode}</th>
              <th scope="col">{t.orders.columns.amount}</th>
              <th scope="col">{t.orders.columns.status}</th>
              <th scope="col">{t.orders.columns.time}</th>
              <th scope="col">{t.orders.columns.actions}</th>
            </tr>
          </thead>
          <tbody>
            {orders.map((order) => (
              <OrderRow
                key={order.id}
                order={order}
                isNew={unread.has(order.id)}
                onActed={acted}
                onReject={() => setDialog(order)}
              />
            ))}
          </tbody>
        </table>
      )}
      {cursor ? (
        <p>
          <button type="button" onClick={() => void more()} disabled={loadingMore}>
            {loadingMore ? common.loading : t.orders.more}
          </button>
        </p>
      ) : null}
      {dialog ? (
        <RejectDialog
          order={dialog}
          onClose={() => setDialog(null)}
          onDone={(order) => {
            setDialog(null);
            acted(order);
          }}
        />
      ) : null}
    </Page>
  );
}

function OrderRow({
  order,
  isNew,
  onActed,
  onReject,
}: {
  order: Order;
  isNew: boolean;
  onActed: (order: Order) => void;
  onReject: () => void;
}): ReactNode {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState(false);
  const detailsId = useId();

  const move = async (step: Move): Promise<void> => {
    if (step === "reject") {
      onReject();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onActed(await http.post<Order>(`/orders/${order.id}/${step}`));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <tr className={isNew ? "unread" : undefined} data-order-id={order.id}>
      <td>
        {isNew ? <span className="tag new-tag">{t.orders.newTag}</span> : null}
        {order.title}{" "}
        <button type="button" className="link small" aria-expanded={open} aria-controls={detailsId} onClick={() => setOpen((o) => !o)}>
          {open ? t.orders.hideDetails : t.orders.details}
        </button>
        {open ? (
          <dl id={detailsId} className="order-details">
            <dt>{t.orders.orderNo}</dt>
            <dd className="mono">{order.id.slice(0, 8).toUpperCase()}</dd>
            {order.buyer_id ? (
              <>
                <dt>{t.orders.buyer}</dt>
                <dd>{t.orders.buyerMasked(order.buyer_id)}</dd>
              </>
            ) : null}
            {order.fulfilment ? (
              <>
                <dt>{t.orders.fulfilment}</dt>
                <dd>{t.orders.fulfilments[order.fulfilment] ?? order.fulfilment}</dd>
              </>
            ) : null}
            {order.days ? (
              <>
                <dt>{t.orders.days}</dt>
                <dd>{t.orders.daysValue(order.days)}</dd>
              </>
            ) : null}
            {order.paid_at ? (
              <>
                <dt>{t.orders.paidAt}</dt>
                <dd><time dateTime={order.paid_at}>{localTime(order.paid_at)}</time></dd>
              </>
            ) : null}
          </dl>
        ) : null}
      </td>
      <td>{t.orders.modes[order.mode] ?? order.mode}</td>
      <td>
        <Money fen={order.price_fen} />
        {order.deposit_fen > 0 ? (
          <span className="muted small">
            {` ${t.orders.deposit} `}
            <Money fen={order.deposit_fen} />
          </span>
        ) : null}
      </td>
      <td>
        <Pill tone={STATUS_TONE[order.status] ?? ""}>{t.orders.statuses[order.status] ?? order.status}</Pill>
        {order.reject_reason ? <span className="muted small block">{t.orders.rejectReason(order.reject_reason)}</span> : null}
      </td>
      <td>
        <time dateTime={order.created_at}>{localTime(order.created_at)}</time>
      </td>
      <td>
        <div className="row actions">
          {movesFor(order).map((step) => (
            <button
              key={step}
              type="button"
              className={step === "reject" ? "danger" : step === "confirm" ? "primary" : undefined}
              onClick={() => void move(step)}
              disabled={busy}
              aria-label={`${moveLabel(step, order)}：${order.title}`}
            >
              {moveLabel(step, order)}
            </button>
          ))}
        </div>
        <Problem error={error} />
      </td>
    </tr>
  );
}

/** Reject (refund) with a reason the buyer is told; a native modal dialog keeps focus inside. */
function RejectDialog({ order, onClose, onDone }: { order: Order; onClose: () => void; onDone: (order: Order) => void }): ReactNode {
  const ref = useRef<HTMLDialogElement>(null);
  const headingId = useId();
  const reasonId = useId();
  const [reason, setReason] = useState("");
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const refundRequest = order.status === "refund_requested";

  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setTouched(true);
    if (!refundRequest && !reason.trim()) return;
    setBusy(true);
    setError(null);
    try {
      onDone(await http.post<Order>(`/orders/${order.id}/reject${query({ reason: reason.trim() })}`));
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  const missing = touched && !refundRequest && !reason.trim();
  return (
    <dialog ref={ref} className="dialog" aria-labelledby={headingId} onClose={onClose} onCancel={onClose}>
      <form className="form" onSubmit={(e) => void submit(e)}>
        <h2 id={headingId}>{refundRequest ? t.orders.approveRefund : order.status === "paid" ? t.orders.rejectTitle : t.orders.refundTitle}</h2>
        <p>
          {order.title} · <Money fen={order.price_fen + order.deposit_fen} />
        </p>
        <p className="muted">{refundRequest ? t.orders.refundConfirm : t.orders.rejectHint}</p>
        <div className="field">
          <label htmlFor={reasonId}>{t.orders.reason}</label>
          <textarea
            id={reasonId}
            value={reason}
            maxLength={500}
            rows={3}
            onChange={(e) => setReason(e.target.value)}
            aria-invalid={missing || undefined}
            aria-describedby={missing ? `${reasonId}-error` : undefined}
          />
          {missing ? <span id={`${reasonId}-error`} className="error small">{t.orders.reasonRequired}</span> : null}
        </div>
        <Problem error={error} />
        <div className="row">
          <button type="button" onClick={onClose} disabled={busy}>{common.cancel}</button>
          <button type="submit" className="danger" disabled={busy}>
            {refundRequest ? t.orders.approveRefund : order.status === "paid" ? t.orders.doReject : t.orders.doRefund}
          </button>
        </div>
      </form>
    </dialog>
  );
}
