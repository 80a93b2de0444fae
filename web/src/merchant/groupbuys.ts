// The back office's view of the group-buy API (lago_rest/routes/groupbuys.py, docs/groupbuys.md):
// campaigns the merchant offers and the orders of groups that succeeded.
export interface Campaign {
  id: string;
  merchant_id: string;
  organiser: "merchant" | "platform";
  title: string;
  description: string;
  listing_id: string | null;
  item_id: string | null;
  group_price_fen: number;
  original_price_fen: number;
  min_members: number;
  max_members: number;
  valid_hours: number;
  per_user_limit: number;
  stock: number | null;
  seats_taken: number;
  payment_window_s: number;
  auto_fill: boolean;
  status: "active" | "ended";
  created_at: string;
}

export interface CampaignIn {
  merchant_id: string;
  title: string;
  description: string;
  item_id?: string;
  listing_id?: string;
  group_price_fen: number;
  original_price_fen: number;
  min_members: number;
  max_members: number;
  valid_hours: number;
  per_user_limit: number;
  stock?: number;
  payment_window_s?: number;
  auto_fill: boolean;
  community_ids: string[];
}

export type GroupBuyOrderStatus = "paid" | "confirmed" | "completed" | "refunded";
export const GROUP_BUY_ORDER_STATUSES: GroupBuyOrderStatus[] = ["paid", "confirmed", "completed", "refunded"];

export interface GroupBuyOrder {
  id: string;
  group_id: string;
  campaign_id: string;
  merchant_id?: string;
  buyer_id: string;
  payment_id?: string;
  price_fen: number;
  status: GroupBuyOrderStatus;
  created_at: string;
  completed_at?: string | null;
  refunded_at?: string | null;
  refund_reason: string | null;
}

/** Whole number text within [min, max], or null. */
export function wholeNumber(text: string, min: number, max: number): number | null {
  if (!/^\s*\d{1,9}\s*$/.test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}
