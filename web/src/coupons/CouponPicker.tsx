// The coupon picker of a purchase (an order sheet, a group-buy seat's cashier): it asks
// POST /checkout/preview as the buyer chooses — nothing is reserved — starts from the API's `best`
// combination (≤ 1 platform + ≤ 1 merchant coupon, so one radio group per funder), lists the
// coupons that cannot be used with their reason, and shows the price breakdown: the deposit of a
// rental is never discounted. The parent sends the chosen ids with the order or the payment.
import { useEffect, useId, useRef, useState, type ReactNode } from "react";

import { ApiError, http } from "../api/http";
import { common, coupons } from "../strings";
import { funderText, reasonText, ruleText } from "./parts";
import { type CheckoutPreview, type CheckoutTarget, type FundedBy, type UserCoupon } from "./types";

const t = coupons.picker;
// Typing a rental's days asks again only once the typing pauses.
const SETTLE_MS = 300;

type Choice = Record<FundedBy, string | null>;

function choiceOf(ids: string[], preview: CheckoutPreview): Choice {
  const funder = new Map(preview.usable.map((u) => [u.coupon.id, u.coupon.funded_by]));
  const choice: Choice = { platform: null, merchant: null };
  for (const id of ids) {
    const f = funder.get(id);
    if (f) choice[f] = id;
  }
  return choice;
}

const idsOf = (choice: Choice): string[] => [choice.merchant, choice.platform].filter((id): id is string => id !== null);
const same = (a: string[], b: string[]): boolean => a.length === b.length && a.every((id) => b.includes(id));

export interface PickerState {
  couponIds: string[];
  preview: CheckoutPreview | null;
  /** True while a preview is being asked: the parent waits before ordering. */
  pending: boolean;
}

export function CouponPicker({
  target,
  onChange,
  priceLabel = t.price,
  refresh = 0,
  onlyWithChoice = false,
}: {
  /** What is bought; null while it is not yet valid (no days typed): nothing is asked. */
  target: CheckoutTarget | null;
  onChange: (state: PickerState) => void;
  priceLabel?: string;
  /** Changed by the parent to ask again (after the order was refused for a coupon). */
  refresh?: number;
  /** Show nothing unless there is a coupon to choose (the seat cashier goes straight on then). */
  onlyWithChoice?: boolean;
}): ReactNode {
  const id = useId();
  // null: follow the API's best combination; set once the buyer chooses.
  const [chosen, setChosen] = useState<Choice | null>(null);
  const [preview, setPreview] = useState<CheckoutPreview | null>(null);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const round = useRef(0);
  const report = useRef(onChange);
  report.current = onChange;
  const key = target ? JSON.stringify(target) : "";

  useEffect(() => {
    if (!target) {
      setPreview(null);
      report.current({ couponIds: [], preview: null, pending: false });
      return undefined;
    }
    const mine = ++round.current;
    const live = (): boolean => mine === round.current;
    setPending(true);
    report.current({ couponIds: chosen ? idsOf(chosen) : [], preview, pending: true });
    const ask = (ids: string[]): Promise<CheckoutPreview> => http.post<CheckoutPreview>("/checkout/preview", { ...target, coupon_ids: ids });
    const timer = window.setTimeout(() => {
      void (async () => {
        try {
          let result: CheckoutPreview;
          if (chosen) {
            try {
              result = await ask(idsOf(chosen));
            } catch (e) {
              // A chosen coupon that no longer applies (the days changed, it expired): follow
              // the best combination again (this asks once more).
              if (e instanceof ApiError && e.status === 409 && live()) {
                setChosen(null);
                return;
              }
              throw e;
            }
          } else {
            result = await ask([]);
            if (result.best.length > 0) result = await ask(result.best);
          }
          if (!live()) return;
          setPreview(result);
          setError(null);
          setPending(false);
          report.current({ couponIds: result.applied.map((a) => a.coupon_id), preview: result, pending: false });
        } catch (e) {
          if (!live()) return;
          // Without a preview the purchase goes on at full price: a coupon is never required.
          setPreview(null);
          setError(e);
          setPending(false);
          report.current({ couponIds: [], preview: null, pending: false });
        }
      })();
    }, SETTLE_MS);
    return () => window.clearTimeout(timer);
    // `preview` is only reported while waiting; asking again on it would loop.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, chosen, refresh]);

  const pick = (funder: FundedBy, couponId: string | null): void => {
    const base: Choice = chosen ?? (preview ? choiceOf(preview.applied.map((a) => a.coupon_id), preview) : { platform: null, merchant: null });
    setChosen({ ...base, [funder]: couponId });
  };

  const applied = preview?.applied.map((a) => a.coupon_id) ?? [];
  // The buyer's choice shows at once; the breakdown follows when its preview arrives.
  const current = chosen ?? (preview ? choiceOf(applied, preview) : { platform: null, merchant: null });
  const isBest = preview ? same(applied, preview.best) : true;
  const groups: FundedBy[] = ["platform", "merchant"];
  // Coupons of one template are the same to the buyer: one option each (the one in use, or the
  // one expiring first, as the API orders them), with how many are held.
  const usableOf = (f: FundedBy): { coupon: UserCoupon; discount_fen: number; count: number }[] => {
    const byTemplate = new Map<string, { coupon: UserCoupon; discount_fen: number; count: number }>();
    for (const u of preview?.usable ?? []) {
      if (u.coupon.funded_by !== f) continue;
      const seen = byTemplate.get(u.coupon.template_id);
      if (!seen) byTemplate.set(u.coupon.template_id, { ...u, count: 1 });
      else byTemplate.set(u.coupon.template_id, { ...(current[f] === u.coupon.id ? u : seen), count: seen.count + 1 });
    }
    return [...byTemplate.values()];
  };

  if (onlyWithChoice && !preview?.usable.length) return null;
  return (
    <section className="coupon-picker" aria-labelledby={`${id}-title`} aria-busy={pending}>
      <h3 id={`${id}-title`}>{t.title}</h3>
      {error ? (
        <p className="muted small" role="status">
          {t.unavailable}
        </p>
      ) : null}
      {!preview && pending ? (
        <p className="muted small" role="status">
          {t.loading}
        </p>
      ) : null}
      {preview && preview.usable.length === 0 ? <p className="muted small">{t.noCoupons}</p> : null}
      {groups.map((f) =>
        usableOf(f).length === 0 ? null : (
          <fieldset key={f}>
            <legend>{f === "platform" ? t.platform : t.merchant}</legend>
            <label className="coupon-option">
              <input type="radio" name={`${id}-${f}`} checked={current[f] === null} disabled={pending} onChange={() => pick(f, null)} />
              {t.none}
            </label>
            {usableOf(f).map(({ coupon, discount_fen, count }) => (
              <label key={coupon.template_id} className="coupon-option">
                <input type="radio" name={`${id}-${f}`} checked={current[f] === coupon.id} disabled={pending} onChange={() => pick(f, coupon.id)} />
                <span className="grow">
                  {coupon.name}
                  {count > 1 ? <span className="muted small">{t.count(count)}</span> : null}
                  <span className="muted small"> · {ruleText(coupon)}</span>
                </span>
                <span className="off">{t.off(discount_fen)}</span>
              </label>
            ))}
          </fieldset>
        ),
      )}
      {preview && preview.best.length > 0 ? (
        isBest ? (
          <p className="notice small">{t.best}</p>
        ) : (
          <p className="small">
            {t.notBest}{" "}
            <button type="button" className="link" disabled={pending} onClick={() => setChosen(choiceOf(preview.best, preview))}>
              {t.useBest}
            </button>
          </p>
        )
      ) : null}
      {preview && preview.unusable.length > 0 ? (
        <details className="coupon-unusable">
          <summary>{t.unusable(preview.unusable.length)}</summary>
          <ul aria-label={t.unusable(preview.unusable.length)}>
            {preview.unusable.map(({ coupon, reason }) => (
              <li key={coupon.id}>
                <span>
                  {coupon.name} <span className="small">（{funderText(coupon)}）</span>
                </span>
                <span className="why">{reasonText(reason)}</span>
              </li>
            ))}
          </ul>
        </details>
      ) : null}
      {preview ? <Breakdown preview={preview} priceLabel={priceLabel} /> : null}
    </section>
  );
}

/** The price, the discounts by funder, the deposit (never discounted) and what is paid. */
export function Breakdown({ preview, priceLabel = t.price }: { preview: CheckoutPreview; priceLabel?: string }): ReactNode {
  return (
    <dl className="coupon-breakdown" aria-label={t.pay}>
      <dt>{priceLabel}</dt>
      <dd>{common.yuan(preview.price_fen)}</dd>
      {preview.platform_discount_fen > 0 ? (
        <>
          <dt>{t.platformDiscount}</dt>
          <dd className="discount">{t.minus(preview.platform_discount_fen)}</dd>
        </>
      ) : null}
      {preview.merchant_discount_fen > 0 ? (
        <>
          <dt>{t.merchantDiscount}</dt>
          <dd className="discount">{t.minus(preview.merchant_discount_fen)}</dd>
        </>
      ) : null}
      {preview.deposit_fen > 0 ? (
        <>
          <dt>{t.deposit}</dt>
          <dd>{common.yuan(preview.deposit_fen)}</dd>
        </>
      ) : null}
      <dt className="total">{t.pay}</dt>
      <dd className="total" data-testid="pay-total">
        {common.yuan(preview.total_fen)}
      </dd>
    </dl>
  );
}
