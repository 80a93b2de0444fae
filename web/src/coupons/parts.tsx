// Pieces every coupon screen shares: a coupon's face (value, threshold, scope) and its errors.
import { type ReactNode } from "react";

import { ApiError } from "../api/http";
import { common, coupons as t, errorText } from "../strings";
import { type CouponTerms } from "./types";
import "./coupons.css";

/** A coupon error as a sentence: the coupon codes first, then the app's common ones. */
export function couponErrorText(error: unknown): string {
  if (!(error instanceof ApiError)) return common.errors.unknown;
  if (error.code === "network") return common.errors.network;
  const reason = (error.details as { reason?: string } | null)?.reason;
  if (error.code === "coupon_not_usable" && reason && reason in t.errors) return t.notUsableBecause(t.errors[reason] as string);
  return t.errors[error.code] ?? errorText(error.code, error.message);
}

export function CouponError({ error }: { error: unknown }): ReactNode {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {couponErrorText(error)}
    </p>
  );
}

/** Why a coupon cannot be used, in Chinese (the preview's reason code). */
export function reasonText(code: string): string {
  return t.errors[code] ?? t.unknownReason;
}

/** The rule in words: "满 ¥50 可用 · 最高减 ¥20 · 限 积木". */
export function ruleText(c: CouponTerms): string {
  return [t.threshold(c.threshold_fen), c.kind === "percent_off" ? t.cap(c.max_discount_fen) : "", t.scope(c.categories, c.listing_ids.length)]
    .filter(Boolean)
    .join(" · ");
}

/** The left stub of a coupon: its value in large type, and the threshold below. */
export function CouponFace({ coupon, dim = false }: { coupon: CouponTerms; dim?: boolean }): ReactNode {
  return (
    <div className={`coupon-face ${coupon.funded_by}${dim ? " dim" : ""}`} aria-hidden="true">
      <span className="coupon-value">{t.face(coupon)}</span>
      <span className="coupon-threshold">{t.threshold(coupon.threshold_fen)}</span>
    </div>
  );
}

/** Who gives the coupon: the platform or the merchant (by name when known). */
export function funderText(c: { funded_by: string; merchant_name?: string | null }): string {
  return c.funded_by === "merchant" ? t.merchantCoupon(c.merchant_name ?? null) : (t.fundedBy[c.funded_by] ?? c.funded_by);
}
