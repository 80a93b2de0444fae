// 支付差价: the swap's payer creates the difference's payment (one Idempotency-Key per visit, so
// a retried request is the same payment), pays it on the sandbox provider's page, and waits for
// the capture to mark the swap paid (the webhook arrives asynchronously, docs/money.md).
import { useState, type ReactNode } from "react";
import { Link, useParams } from "react-router";

import { http } from "../api/http";
import { common, resident, swaps } from "../strings";
import { ErrorNote, Loading, Money, Page, useAction, useLoad } from "../ui/kit";
import { type Payment } from "../resident/types";
import { usePoll } from "../resident/usePoll";
import { type Swap } from "./types";

export default function SwapCashierPage(): ReactNode {
  const { id = "" } = useParams();
  const [key] = useState(() => crypto.randomUUID());
  const [swap, swapError, reloadSwap] = useLoad(() => http.get<Swap>(`/swaps/${id}`), [id]);
  const waitingForSwap = swap?.status === "accepted";
  const [payment, paymentError] = useLoad(
    () => (waitingForSwap ? http.postOnce<Payment>(`/swaps/${id}/pay`, key) : Promise.resolve(undefined)),
    [id, waitingForSwap],
  );
  const [sent, setSent] = useState(false);
  usePoll(sent && swap?.status === "accepted", reloadSwap);
  const [pay, busy, payError] = useAction(async () => {
    if (!payment?.provider_intent_id || !payment.client_secret) return;
    await http.post(`/sandbox/intents/${encodeURIComponent(payment.provider_intent_id)}/pay`, {
      client_secret: payment.client_secret,
      outcome: "succeed",
    });
    setSent(true);
  });
  const c = swaps.cashier;
  if (swapError) {
    return (
      <Page title={c.title}>
        <ErrorNote error={swapError} />
      </Page>
    );
  }
  if (!swap) return <Loading />;
  if (swap.status !== "accepted") {
    return (
      <Page title={c.title}>
        <div className={`card cashier-result ${swap.status === "paid" ? "ok" : ""}`} role="status">
          <p className="result-title">{swap.status === "paid" ? c.paid : swaps.statuses[swap.status]}</p>
          <Link to="/me/swaps" className="button-link primary">
            {c.back}
          </Link>
        </div>
      </Page>
    );
  }
  return (
    <Page title={c.title}>
      <div className="card cashier">
        <p className="muted">{c.amount}</p>
        <p className="cashier-total">
          <Money fen={swap.difference_fen} />
        </p>
        <p>
          {swap.listing_title} ⇄ {swap.offered_title}
        </p>
      </div>
      <fieldset className="card choices">
        <legend>{resident.cashier.method}</legend>
        <label className="choice">
          <input type="radio" name="method" checked readOnly />
          {resident.cashier.sandbox}
        </label>
      </fieldset>
      {sent ? (
        <p className="muted" role="status" aria-busy="true">
          {c.waiting}
        </p>
      ) : null}
      <ErrorNote error={paymentError ?? payError} />
      <button type="button" className="primary wide" disabled={busy || sent || !payment?.client_secret} onClick={() => void pay()}>
        {c.pay(common.yuan(swap.difference_fen))}
      </button>
    </Page>
  );
}
