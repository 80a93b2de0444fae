// The coupon shapes of the API (docs/coupons.md; /work contract of issue 18). Amounts are integer fen.

export type CouponKind = "amount_off" | "percent_off";
export type FundedBy = "platform" | "merchant";

/** What a coupon takes off (a template's terms, repeated on every coupon issued from it). */
export interface CouponTerms {
  name: string;
  kind: CouponKind;
  amount_off_fen: number | null;
  percent_off_bps: number | null;
  max_discount_fen: number | null;
  threshold_fen: number;
  categories: string[];
  listing_ids: string[];
  funded_by: FundedBy;
  merchant_id: string | null;
}

export interface CouponTemplate extends CouponTerms {
  id: string;
  total_count: number | null;
  issued_count: number;
  used_count: number;
  per_user_limit: number;
  valid_days: number;
  claimable: boolean;
  new_user: boolean;
  budget_fen: number | null;
  /** null outside the owner side (a resident sees a merchant's terms, not its spend). */
  discount_given_fen: number | null;
  status: "active" | "ended";
  starts_at: string | null;
  ends_at: string | null;
  created_at: string;
  /** The claim centre only: how many of it the caller holds already. */
  claimed_by_me?: number;
  merchant_name?: string | null;
}

export type UserCouponStatus = "available" | "locked" | "used" | "expired";

export interface UserCoupon extends CouponTerms {
  id: string;
  template_id: string;
  merchant_name: string | null;
  status: UserCouponStatus;
  issued_at: string;
  expires_at: string;
  /** locked/used: the order or group-buy seat holding it (holder_type says which). */
  order_id: string | null;
  holder_type?: "order" | "group_buy_seat" | null;
  source: "claim" | "grant" | "signup" | "points";
  used_at?: string | null;
}

export interface CheckoutPreview {
  price_fen: number;
  deposit_fen: number;
  discount_fen: number;
  platform_discount_fen: number;
  merchant_discount_fen: number;
  pay_fen: number;
  total_fen: number;
  applied: { coupon_id: string; funded_by: FundedBy; discount_fen: number }[];
  usable: { coupon: UserCoupon; discount_fen: number }[];
  unusable: { coupon: UserCoupon; reason: string }[];
  best: string[];
}

/** What is being bought: a listing (with the rental's days) or a seat in a group buy. */
export type CheckoutTarget = { listing_id: string; days?: number | null } | { group_id: string };

export interface TemplateIn {
  name: string;
  kind: CouponKind;
  amount_off_fen?: number;
  percent_off_bps?: number;
  max_discount_fen?: number;
  threshold_fen: number;
  categories: string[];
  listing_ids: string[];
  merchant_id?: string;
  total_count?: number;
  per_user_limit: number;
  valid_days: number;
  budget_fen?: number;
  claimable: boolean;
  new_user?: boolean;
}

export interface GrantResult {
  granted: UserCoupon[];
  refused: { phone?: string; user_id?: string; code: string }[];
}
