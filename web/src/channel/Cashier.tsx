// A minimal cashier for a group-buy seat: the amount, the sandbox provider's pay and fail buttons,
// and the payment followed until the provider's webhook decided it.
import { useEffect, useRef, useState, type ReactNode } from "react";

import { channel, common, coupons } from "../strings";
import { CouponPicker, type PickerState } from "../coupons/CouponPicker";
import { Money } from "../ui/kit";
import { channelError } from "./feed";
import { getPayment, newKey, paySeat, sandboxPay, type Payment } from "./pay";

type Step = "choosing" | "creating" | "ready" | "paying" | "waiting" | "captured" | "failed" | "rejected";

const POLL_MS = 1_000;

const discountOf = (payment: Payment): number => (payment.platform_discount_fen ?? 0) + (payment.merchant_discount_fen ?? 0);
const POLL_TRIES = 120;

export function Cashier({ groupId, title, onClose, onPaid }: { groupId: string; title: string; onClose: () => void; onPaid: () => void }): ReactNode {
  const [step, setStep] = useState<Step>("choosing");
  const [picked, setPicked] = useState<PickerState>({ couponIds: [], preview: null, pending: true });
  const [payment, setPayment] = useState<Payment | null>(null);
  const [error, setError] = useState<unknown>(null);
  const key = useRef(newKey());
  const live = useRef(true);

  const create = async (): Promise<void> => {
    setStep("creating");
    setError(null);
    try {
      setPayment(await paySeat(groupId, key.current, picked.couponIds));
      setStep("ready");
    } catch (e) {
      setError(e);
      setStep("failed");
    }
  };

  // The coupons are chosen first (the preview reserves nothing); the payment is created with them.
  useEffect(() => {
    live.current = true;
    setStep("choosing");
    return () => {
      live.current = false;
    };
  }, [groupId]);

  // Nothing to choose (no usable coupon, or no preview): straight on to the payment.
  const nothingToChoose = !picked.pending && (picked.preview === null || picked.preview.usable.length === 0);
  useEffect(() => {
    if (step === "choosing" && nothingToChoose) void create();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [step, nothingToChoose]);

  const pay = async (outcome: "succeed" | "fail"): Promise<void> => {
    if (!payment) return;
    setStep("paying");
    setError(null);
    try {
      await sandboxPay(payment, outcome);
      setStep("waiting");
      for (let i = 0; i < POLL_TRIES && live.current; i += 1) {
        const now = await getPayment(payment.id);
        if (now.status === "captured") {
          setPayment(now);
          setStep(now.rejected_reason ? "rejected" : "captured");
          if (!now.rejected_reason) onPaid();
          return;
        }
        if (now.status === "failed") {
          setPayment(now);
          setStep("failed");
          key.current = newKey(); // a failed payment is final: the next attempt is a new one
          return;
        }
        await new Promise((resolve) => window.setTimeout(resolve, POLL_MS));
      }
    } catch (e) {
      setError(e);
      setStep("ready");
    }
  };

  const busy = step === "creating" || step === "paying" || step === "waiting";
  return (
    <div className="sheet" role="dialog" aria-modal="true" aria-labelledby="cashier-title">
      <div className="card cashier">
        <h2 id="cashier-title">{channel.cashier.title}</h2>
        <p className="muted">{channel.cashier.sandbox}</p>
        <dl>
          <dt>{channel.cashier.payTo}</dt>
          <dd>{title}</dd>
          <dt>{channel.cashier.amount}</dt>
          <dd>{payment ? <Money fen={payment.total_fen} /> : picked.preview?.usable.length ? <Money fen={picked.preview.total_fen} /> : "—"}</dd>
          {payment && discountOf(payment) > 0 ? (
            <>
              <dt>{coupons.order.discount}</dt>
              <dd className="notice">{coupons.picker.minus(discountOf(payment))}</dd>
            </>
          ) : null}
        </dl>
        {step === "choosing" ? <CouponPicker target={{ group_id: groupId }} onChange={setPicked} onlyWithChoice /> : null}
        <p role="status" aria-live="polite" className={step === "captured" ? "notice" : step === "failed" || step === "rejected" ? "error" : "muted"}>
          {step === "creating"
            ? channel.cashier.creating
            : step === "paying"
              ? channel.cashier.paying
              : step === "waiting"
                ? channel.cashier.waiting
              : step === "captured"
                ? channel.cashier.captured
                : step === "rejected"
                  ? channel.cashier.rejected(payment?.rejected_reason ?? "")
                  : step === "failed"
                    ? channel.cashier.failed
                    : ""}
        </p>
        {error ? (
          <p className="error" role="alert">
            {channelError(error)}
          </p>
        ) : null}
        <div className="row wrap">
          {step === "choosing" ? (
            <button type="button" className="primary" disabled={picked.pending} onClick={() => void create()}>
              {channel.cashier.toPay}
            </button>
          ) : null}
          {step === "ready" ? (
            <>
              <button type="button" className="primary" onClick={() => void pay("succeed")}>
                {channel.cashier.payNow}
              </button>
              <button type="button" onClick={() => void pay("fail")}>
                {channel.cashier.payFail}
              </button>
            </>
          ) : null}
          {step === "failed" ? (
            <button type="button" className="primary" onClick={() => void create()}>
              {channel.groupbuys.pay}
            </button>
          ) : null}
          <button type="button" onClick={onClose} disabled={busy && step !== "waiting"}>
            {step === "captured" || step === "rejected" ? common.close : channel.cashier.cancel}
          </button>
        </div>
      </div>
    </div>
  );
}
