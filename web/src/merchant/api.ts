// The back office's view of the API (lago_rest/routes/merchants.py, orders.py, settlement.py,
// listings.py): the shapes the screens read, and the error sentence for a code.
import { ApiError } from "../api/http";
import { common, errorText, merchant as t } from "../strings";

export type MerchantStatus = "draft" | "submitted" | "approved" | "rejected" | "resubmitted";
export type Weekday = "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun";
export const WEEKDAYS: Weekday[] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
export type OpeningHours = Partial<Record<Weekday, [string, string][]>>;

export interface MyMerchant {
  id: string;
  name: string;
  created_at: string;
  role: "owner" | "staff";
}

export interface Merchant {
  id: string;
  name: string;
  status: MerchantStatus;
  description: string;
  opening_hours: OpeningHours;
  logo_url: string | null;
  created_at: string;
  community_ids: string[];
}

export const REGISTRATION_FIELDS = [
  "legal_name",
  "legal_representative",
  "contact_phone",
  "address",
  "business_scope",
  "credit_code",
] as const;
export type RegistrationField = (typeof REGISTRATION_FIELDS)[number];

export interface Registration extends Record<RegistrationField, string | null> {
  id: string;
  contact_email: string | null;
  name: string;
  status: MerchantStatus;
  rejection_reason: string | null;
  submitted_at: string | null;
  decided_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface ReviewEntry {
  id: number;
  action: string;
  from_status: MerchantStatus;
  to_status: MerchantStatus;
  actor_name: string | null;
  reason: string | null;
  created_at: string;
}

export type DocumentKind = "business_licence" | "food_permit" | "other_permit";

export interface MerchantDocument {
  id: string;
  kind: DocumentKind;
  content_type: string;
  size_bytes: number;
  url: string;
  created_at: string;
}

export interface Item {
  id: string;
  name: string;
  kind: "service" | "product";
  price_fen: number;
  stock: number;
  active: boolean;
  created_at: string;
  updated_at: string;
}

export interface Listing {
  id: string;
  title: string;
  kind: "sale" | "rent" | "consignment";
  price_fen: number | null;
  rent_per_day_fen: number | null;
  deposit_fen: number | null;
  status: string;
  images: { key: string; url: string }[];
  created_at: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type OrderStatus =
  | "created"
  | "paid"
  | "confirmed"
  | "handed_over"
  | "delivered"
  | "picked_up"
  | "returned"
  | "completed"
  | "cancelled"
  | "refund_requested"
  | "refunded";

export interface Order {
  id: string;
  mode: "sale" | "consignment" | "rental";
  status: OrderStatus;
  listing_id: string;
  buyer_id?: string;
  merchant_id: string | null;
  fulfilment: string;
  title: string;
  price_fen: number;
  deposit_fen: number;
  days: number | null;
  created_at: string;
  paid_at: string | null;
  reject_reason?: string | null;
  /** Coupons (issue 18): the buyer pays pay_fen (price − discounts) plus the deposit. */
  pay_fen?: number;
  platform_discount_fen?: number;
  merchant_discount_fen?: number;
}

/** What the /merchant namespace pushes for an order (docs/orders.md, "Merchant pushes"). */
export interface OrderPush {
  order_id: string;
  merchant_id: string | null;
  mode: Order["mode"];
  status: OrderStatus;
  title: string;
  price_fen: number;
  deposit_fen: number;
}

export interface DayStats {
  day: string;
  orders: number;
  revenue_fen: number;
  completed: number;
  refunded: number;
  /** The store's own coupon discounts (issue 18), where the API reports them. */
  discount_fen?: number;
}

export interface Dashboard {
  today: DayStats;
  month: DayStats;
  pending_orders: number;
  rating_count: number;
  rating_average: number | null;
  trend: DayStats[];
  top_services: { listing_id: string; title: string; orders: number; revenue_fen: number }[];
}

export interface Settlement {
  id: string;
  cutoff: string;
  order_count: number;
  gross_fen: number;
  commission_fen: number;
  property_share_fen: number;
  withheld_fen: number;
  net_fen: number;
  /** The store's own coupon discounts in this settlement (issue 18), where the API reports them. */
  merchant_discount_fen?: number;
  payout_status: "pending" | "paid" | null;
  created_at: string;
}

export interface Statement {
  month: string;
  settlements: Settlement[];
  totals: {
    settlement_count: number;
    order_count: number;
    gross_fen: number;
    commission_fen: number;
    property_share_fen: number;
    withheld_fen: number;
    net_fen: number;
    merchant_discount_fen?: number;
  };
}

export interface Community {
  id: string;
  name: string;
  address: string;
}

/** The sentence for an error: the back office's own codes first, then the shared ones. */
export function merchantError(error: unknown): string {
  if (!(error instanceof ApiError)) return common.errors.unknown;
  if (error.code === "network") return common.errors.network;
  if (error.status === 413) return t.errors.payload_too_large ?? common.errors.unknown;
  return t.errors[error.code] ?? errorText(error.code, error.message);
}

/** Yuan text ("12.50") to integer fen, or null when it is not a price with at most two decimals. */
export function yuanToFen(text: string): number | null {
  const match = /^\s*(\d{1,7})(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!match) return null;
  const fen = Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
  return fen > 0 ? fen : null;
}

/** Integer fen as yuan text for an input ("12.50"), with no floating-point arithmetic. */
export function fenToYuanText(fen: number): string {
  return `${Math.trunc(fen / 100)}.${String(fen % 100).padStart(2, "0")}`;
}

const timeFormat = new Intl.DateTimeFormat("zh-CN", { dateStyle: "short", timeStyle: "short" });
const dateFormat = new Intl.DateTimeFormat("zh-CN", { dateStyle: "medium" });

export function localTime(iso: string | null | undefined): string {
  return iso ? timeFormat.format(new Date(iso)) : "";
}

export function localDate(iso: string | null | undefined): string {
  return iso ? dateFormat.format(new Date(iso)) : "";
}
