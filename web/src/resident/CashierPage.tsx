// 收银台: pay an order's payment on the sandbox provider's page, then wait for the capture (the
// provider's webhook arrives asynchronously, docs/money.md) and show the order paid.
import { useState, type ReactNode } from "react";
import { Link, useParams } from "react-router";

import { http } from "../api/http";
import { common, resident } from "../strings";
import { Loading, Money, Page, useAction, useLoad } from "../ui/kit";
import { DiscountLines } from "./DiscountLines";
import { type Order, type Payment } from "./types";
import { usePoll } from "./usePoll";
import { ResidentError } from "./ResidentError";

// The provider's confirmation normally arrives within seconds; after this, say where to look later.
const SLOW_MS = 20_000;

export function CashierPage(): ReactNode {
  const { id = "" } = useParams();
  const [order, orderError, reloadOrder] = useLoad(() => http.get<Order>(`/orders/${id}`), [id]);
  const paymentId = order?.payment_id;
  const [payment, paymentError, reloadPayment] = useLoad(
    () => (paymentId ? http.get<Payment>(`/payments/${paymentId}`) : Promise.resolve(undefined)),
    [paymentId],
  );
  const [sent, setSent] = useState<"succeed" | "fail" | null>(null);
  const [sentAt, setSentAt] = useState(0);
  const settled = order && order.status !== "created";
  // A failed intent is final (docs/money.md): the order is cancelled and ordered again.
  const failed = sent === "fail" || payment?.status === "failed";
  usePoll(sent === "succeed" && !settled && !failed, () => {
    reloadOrder();
    reloadPayment();
  });
  const [pay, busy, payError] = useAction(async (outcome: "succeed" | "fail") => {
    if (!payment?.provider_intent_id || !payment.client_secret) return;
    await http.post(`/sandbox/intents/${encodeURIComponent(payment.provider_intent_id)}/pay`, {
      client_secret: payment.client_secret,
      outcome,
    });
    setSent(outcome);
    setSentAt(Date.now());
  });
  const [cancel, cancelling, cancelError] = useAction(async () => {
    if (!window.confirm(resident.order.actions.cancelConfirm)) return;
    await http.post(`/orders/${id}/cancel`);
    reloadOrder();
  });
  const c = resident.cashier;
  if (orderError || paymentError) {
    return (
      <Page title={c.title}>
        <ResidentError error={orderError ?? paymentError} />
      </Page>
    );
  }
  if (!order || (paymentId && !payment)) return <Loading />;
  if (settled) {
    const paidNow = order.status === "paid";
    return (
      <Page title={c.title}>
        <div className={`card cashier-result ${paidNow ? "ok" : ""}`} role="status">
          <p className="result-title">{paidNow && sent ? c.paid : order.status === "cancelled" ? resident.order.statuses.cancelled : c.already}</p>
          <p>
            {order.title} · {resident.order.statuses[order.status] ?? order.status}
          </p>
          <Link to={`/orders/${order.id}`} className="button-link primary">
            {c.toOrder}
          </Link>
        </div>
      </Page>
    );
  }
  const waiting = sent === "succeed" && !failed;
  return (
    <Page title={c.title}>
      <div className="card cashier">
        <p className="muted">{c.amount}</p>
        <p className="cashier-total">
          <Money fen={payment?.total_fen ?? (order.pay_fen ?? order.price_fen) + order.deposit_fen} />
        </p>
        <dl className="facts">
          <dt>{c.order}</dt>
          <dd>{order.title}</dd>
          <dt>{c.price}</dt>
          <dd>{common.yuan(order.price_fen)}</dd>
          <DiscountLines order={order} />
          {order.deposit_fen ? (
            <>
              <dt>{c.deposit}</dt>
              <dd>{common.yuan(order.deposit_fen)}</dd>
            </>
          ) : null}
        </dl>
        {payment ? <p className="muted small">{c.expires(resident.time(payment.expires_at))}</p> : null}
      </div>
      <fieldset className="card choices">
        <legend>{c.method}</legend>
        <label className="choice">
          <input type="radio" name="method" checked readOnly />
          {c.sandbox}
        </label>
      </fieldset>
      {failed ? (
        <div className="card">
          <p className="error" role="alert">
            {c.failed}
          </p>
          <ResidentError error={cancelError} />
          <div className="actions">
            <button type="button" className="danger" disabled={cancelling} onClick={() => void cancel()}>
              {c.cancel}
            </button>
            <Link to={`/listings/${order.listing_id}`} className="button-link">
              {c.backToListing}
            </Link>
          </div>
        </div>
      ) : null}
      {waiting ? (
        <p className="muted" role="status" aria-busy="true">
          {c.waiting}
          {Date.now() - sentAt > SLOW_MS ? ` ${c.slow}` : ""}
        </p>
      ) : null}
      <ResidentError error={payError} />
      <button type="button" className="primary wide" disabled={busy || waiting || failed || !payment?.client_secret} onClick={() => void pay("succeed")}>
        {c.pay(common.yuan(payment?.total_fen ?? 0))}
      </button>
      <button type="button" className="link wide" disabled={busy || waiting || failed || !payment?.client_secret} onClick={() => void pay("fail")}>
        {c.fail}
      </button>
      <p>
        <Link to={`/orders/${order.id}`}>{resident.order.title}</Link>
      </p>
    </Page>
  );
}
