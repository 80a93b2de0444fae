// Group-buy orders (拼团订单): one per paid seat of a group that succeeded, by status, new ones
// arriving live as `groupbuy:order` on the /merchant socket (the same connection the shell holds),
// and the merchant's moves: confirm, mark delivered, refund with a reason the buyer is told.
//
// API: GET /merchants/{id}/group-buy-orders?status=&cursor=, POST /group-buy-orders/{id}/confirm |
// complete | refund {reason}; campaign titles from GET /merchants/{id}/group-buy-campaigns.
import { useCallback, useState, type ReactNode } from "react";

import { http } from "../api/http";
import { realtime } from "../api/realtime";
import { merchant as t } from "../strings";
import { Money, Page, useLoad } from "../ui/kit";
import { localTime } from "./api";
import { useMerchant } from "./context";
import { type Campaign, GROUP_BUY_ORDER_STATUSES, type GroupBuyOrder, type GroupBuyOrderStatus } from "./groupbuys";
import { ListTable, LoadMore, Pill, Problem, STATUS_TONE, ReasonDialog, StatusFilter } from "./parts";
import { chime } from "./sound";
import { type LiveFeed, useLiveList } from "./useLiveList";

const o = t.groupBuyOrders;

/** A fresher copy of a group-buy order keeps what the shown one knew and it does not say. */
function mergeOrder(existing: GroupBuyOrder, next: GroupBuyOrder): GroupBuyOrder {
  return { ...existing, ...next };
}

export function GroupBuyOrdersPage(): ReactNode {
  const { merchant } = useMerchant();
  const [filter, setFilter] = useState<GroupBuyOrderStatus | "">("");
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const [refunding, setRefunding] = useState<GroupBuyOrder | null>(null);
  const [campaigns] = useLoad(() => http.get<Campaign[]>(`/merchants/${merchant.id}/group-buy-campaigns`), [merchant.id]);

  const subscribe = useCallback(
    ({ push }: LiveFeed<GroupBuyOrder>) => {
      let alive = true;
      let stop: (() => void) | undefined;
      realtime("/merchant")
        .on<GroupBuyOrder>("groupbuy:order", (order) => {
          if (order.merchant_id && order.merchant_id !== merchant.id) return;
          if (order.status === "paid") {
            setFresh((prev) => new Set(prev).add(order.id));
            chime();
          }
          push(order.id, (existing) => (existing ? mergeOrder(existing, order) : order));
        })
        .then(
          (off) => (alive ? (stop = off) : off()),
          (e: unknown) => console.warn("merchant socket:", e),
        );
      return () => {
        alive = false;
        stop?.();
      };
    },
    [merchant.id],
  );
  const { items: orders, cursor, error, loadingMore, load, more, upsert } = useLiveList<GroupBuyOrder>({
    path: `/merchants/${merchant.id}/group-buy-orders`,
    filter,
    subscribe,
    merge: mergeOrder,
  });

  const acted = (order: GroupBuyOrder): void => {
    setFresh((prev) => {
      const next = new Set(prev);
      next.delete(order.id);
      return next;
    });
    upsert(order);
  };

  const titleOf = (campaignId: string): string => campaigns?.find((c) => c.id === campaignId)?.title ?? o.unknownCampaign;

  return (
    <Page title={o.title}>
      <StatusFilter statuses={GROUP_BUY_ORDER_STATUSES} value={filter} onChange={setFilter} label={(f) => o.statuses[f]} />
      <Problem error={error} />
      <ListTable
        rows={orders}
        error={error}
        onRetry={() => void load()}
        empty={o.empty}
        className="orders-table"
        columns={[
          o.columns.campaign,
          o.columns.order,
          o.columns.buyer,
          o.columns.amount,
          o.columns.status,
          o.columns.time,
          o.columns.actions,
        ]}
      >
        {orders?.map((order) => (
          <OrderRow
            key={order.id}
            order={order}
            title={titleOf(order.campaign_id)}
            isNew={fresh.has(order.id)}
            onActed={acted}
            onRefund={() => setRefunding(order)}
          />
        ))}
      </ListTable>
      <LoadMore more={Boolean(cursor)} busy={loadingMore} onMore={() => void more()} />
      {refunding ? (
        <RefundDialog
          order={refunding}
          title={titleOf(refunding.campaign_id)}
          onClose={() => setRefunding(null)}
          onDone={(order) => {
            setRefunding(null);
            acted(order);
          }}
        />
      ) : null}
    </Page>
  );
}

function OrderRow({
  order,
  title,
  isNew,
  onActed,
  onRefund,
}: {
  order: GroupBuyOrder;
  title: string;
  isNew: boolean;
  onActed: (order: GroupBuyOrder) => void;
  onRefund: () => void;
}): ReactNode {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const step = order.status === "paid" ? "confirm" : order.status === "confirmed" ? "complete" : null;
  const refundable = order.status === "paid" || order.status === "confirmed";

  const move = async (to: "confirm" | "complete"): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      onActed(await http.post<GroupBuyOrder>(`/group-buy-orders/${order.id}/${to}`));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const label = step === "confirm" ? o.confirm : o.complete;
  return (
    <tr className={isNew ? "unread" : undefined} data-order-id={order.id}>
      <td>
        {isNew ? <span className="tag new-tag">{t.orders.newTag}</span> : null}
        {title}
      </td>
      <td className="mono">{order.id.slice(0, 8).toUpperCase()}</td>
      <td>{t.orders.buyerMasked(order.buyer_id)}</td>
      <td><Money fen={order.price_fen} /></td>
      <td>
        <Pill tone={STATUS_TONE[order.status] ?? ""}>{o.statuses[order.status] ?? order.status}</Pill>
        {order.refund_reason ? <span className="muted small block">{t.orders.rejectReason(order.refund_reason)}</span> : null}
      </td>
      <td><time dateTime={order.created_at}>{localTime(order.created_at)}</time></td>
      <td>
        <div className="row actions">
          {step ? (
            <button
              type="button"
              className={step === "confirm" ? "primary" : undefined}
              disabled={busy}
              aria-label={`${label}：${title} ${order.id.slice(0, 8).toUpperCase()}`}
              onClick={() => void move(step)}
            >
              {label}
            </button>
          ) : null}
          {refundable ? (
            <button
              type="button"
              className="danger"
              disabled={busy}
              aria-label={`${o.refund}：${title} ${order.id.slice(0, 8).toUpperCase()}`}
              onClick={onRefund}
            >
              {o.refund}
            </button>
          ) : null}
        </div>
        <Problem error={error} />
      </td>
    </tr>
  );
}

/** Refund with a reason (1–200 characters) the buyer is told. */
function RefundDialog({
  order,
  title,
  onClose,
  onDone,
}: {
  order: GroupBuyOrder;
  title: string;
  onClose: () => void;
  onDone: (order: GroupBuyOrder) => void;
}): ReactNode {
  return (
    <ReasonDialog
      heading={o.refundTitle}
      summary={
        <>
          {title} · <Money fen={order.price_fen} />
        </>
      }
      hint={o.refundHint}
      reasonLabel={o.reason}
      requiredMessage={o.reasonRequired}
      maxLength={200}
      submitLabel={o.doRefund}
      onClose={onClose}
      onSubmit={async (reason) => onDone(await http.post<GroupBuyOrder>(`/group-buy-orders/${order.id}/refund`, { reason }))}
    />
  );
}
