// 我的订单: as buyer or as seller, newest first.
import { type ReactNode } from "react";
import { Link, useSearchParams } from "react-router";

import { http, query } from "../api/http";
import { resident } from "../strings";
import { Empty, Loading, Money, Page, useLoad } from "../ui/kit";
import { type Order, type Page as Paged } from "./types";
import { ResidentError } from "./ResidentError";
import { useBriefNotice, useOrderUpdates } from "./useOrderUpdates";

export function OrdersPage(): ReactNode {
  const [params, setParams] = useSearchParams();
  const role = params.get("role") === "seller" ? "seller" : "buyer";
  const [page, error, reload] = useLoad(() => http.get<Paged<Order>>(`/orders${query({ role, limit: 50 })}`), [role]);
  // Any change of one of the user's orders (a new one sold, the other side's move) is pushed:
  // the list is read again, as after a reconnect (pushes may have been missed).
  const [updated, showUpdated] = useBriefNotice();
  useOrderUpdates(() => {
    reload();
    showUpdated();
  }, reload);
  const o = resident.order;
  return (
    <Page title={o.list}>
      <p className="notice live-notice" role="status">
        {updated ? o.updated : null}
      </p>
      <div className="segmented" role="group" aria-label={o.list}>
        {(["buyer", "seller"] as const).map((r) => (
          <button key={r} type="button" aria-pressed={role === r} className={role === r ? "primary" : "secondary"} onClick={() => setParams({ role: r })}>
            {r === "buyer" ? o.asBuyer : o.asSeller}
          </button>
        ))}
      </div>
      <ResidentError error={error} />
      {page === undefined && !error ? <Loading /> : null}
      {page && page.items.length === 0 ? <Empty>{o.empty}</Empty> : null}
      <ul className="list">
        {page?.items.map((order) => (
          <li key={order.id} className="card order-row">
            <Link to={`/orders/${order.id}`} className="grow">
              {order.title}
            </Link>
            <span className={`badge status-${order.status}`}>{o.statuses[order.status] ?? order.status}</span>
            <span className="muted small wide">
              {o.modes[order.mode]} · {resident.time(order.created_at)} · <Money fen={(order.pay_fen ?? order.price_fen) + order.deposit_fen} />
            </span>
            {role === "buyer" && order.status === "created" ? (
              <Link to={`/orders/${order.id}/pay`} className="button-link">
                {o.actions.pay}
              </Link>
            ) : null}
          </li>
        ))}
      </ul>
    </Page>
  );
}
