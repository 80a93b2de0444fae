// Orders (订单管理): the merchant's orders by status, new ones arriving live over /merchant (the
// shell counts them on the 订单 badge and rings), and the merchant's moves: confirm, reject with a
// reason (the buyer's money goes back), grant a refund request, hand over, pick-up and return.
//
// API: GET /merchants/{id}/orders?status=&cursor=, GET /orders/{id}, POST /orders/{id}/<move>.
import { useCallback, useId, useState, type ReactNode } from "react";

import { http, query } from "../api/http";
import { common, merchant as t } from "../strings";
import { Money, Page } from "../ui/kit";
import { localTime, type Order, type OrderPush, type OrderStatus } from "./api";
import { useMerchant } from "./context";
import { ListTable, LoadMore, Pill, Problem, STATUS_TONE, ReasonDialog, StatusFilter } from "./parts";
import { type LiveFeed, useLiveList } from "./useLiveList";

const FILTERS: OrderStatus[] = [
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
  const { merchant, unread, markRead, onLive } = useMerchant();
  const [filter, setFilter] = useState<OrderStatus | "">("");
  const [dialog, setDialog] = useState<Order | null>(null);
  const subscribe = useCallback(
    ({ push, upsert }: LiveFeed<Order>) =>
      onLive(({ push: order }) => {
        push(order.order_id, (existing) => fromPush(order, existing));
        http.get<Order>(`/orders/${order.order_id}`).then(upsert, (e: unknown) => console.warn("order refresh failed", e));
      }),
    [onLive],
  );
  const { items: orders, cursor, error, loadingMore, more, upsert } = useLiveList<Order>({
    path: `/merchants/${merchant.id}/orders`,
    filter,
    subscribe,
  });

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
      <StatusFilter statuses={FILTERS} value={filter} onChange={setFilter} label={(f) => t.orders.statuses[f]} />
      <Problem error={error} />
      <ListTable
        rows={orders}
        error={error}
        empty={t.orders.empty}
        className="orders-table"
        columns={[
          t.orders.columns.title,
          t.orders.columns.mode,
          t.orders.columns.amount,
          t.orders.columns.status,
          t.orders.columns.time,
          t.orders.columns.actions,
        ]}
      >
        {orders?.map((order) => (
          <OrderRow
            key={order.id}
            order={order}
            isNew={unread.has(order.id)}
            onActed={acted}
            onReject={() => setDialog(order)}
          />
        ))}
      </ListTable>
      <LoadMore more={Boolean(cursor)} busy={loadingMore} onMore={() => void more()} />
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
        {order.merchant_discount_fen ? (
          <span className="muted small block">{t.orders.merchantDiscount(common.yuan(order.merchant_discount_fen))}</span>
        ) : null}
        {order.platform_discount_fen ? (
          <span className="muted small block">{t.orders.platformDiscount(common.yuan(order.platform_discount_fen))}</span>
        ) : null}
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

/** Reject (refund) with a reason the buyer is told (optional when granting their refund request). */
function RejectDialog({ order, onClose, onDone }: { order: Order; onClose: () => void; onDone: (order: Order) => void }): ReactNode {
  const refundRequest = order.status === "refund_requested";
  const paid = order.status === "paid";
  return (
    <ReasonDialog
      heading={refundRequest ? t.orders.approveRefund : paid ? t.orders.rejectTitle : t.orders.refundTitle}
      summary={
        <>
          {order.title} · <Money fen={(order.pay_fen ?? order.price_fen) + order.deposit_fen} />
        </>
      }
      hint={refundRequest ? t.orders.refundConfirm : t.orders.rejectHint}
      reasonLabel={t.orders.reason}
      optional={refundRequest}
      requiredMessage={t.orders.reasonRequired}
      maxLength={500}
      submitLabel={refundRequest ? t.orders.approveRefund : paid ? t.orders.doReject : t.orders.doRefund}
      onClose={onClose}
      onSubmit={async (reason) => onDone(await http.post<Order>(`/orders/${order.id}/reject${query({ reason })}`))}
    />
  );
}
