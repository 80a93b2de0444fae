export interface ListingImage {
  key: string;
  url: string;
}

export interface Listing {
  id: string;
  seller_id: string;
  merchant_id: string | null;
  title: string;
  description: string;
  category: string;
  brand: string | null;
  condition: string;
  kind: "sale" | "consignment" | "rent";
  price_fen: number | null;
  rent_per_day_fen: number | null;
  deposit_fen: number | null;
  images: ListingImage[];
  status: string;
  created_at: string;
  updated_at: string;
  swap_ok?: boolean;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Community {
  id: string;
  name: string;
  address: string;
}

export interface Intent {
  intent: "rent" | "buy" | "sell" | "swap";
  category: string | null;
  brand: string | null;
  product: string | null;
  keywords: string[];
  duration_days: number | null;
  price_min_fen: number | null;
  price_max_fen: number | null;
  price_per_day: boolean;
  condition: string | null;
  scope: "community" | "nearby" | null;
}

export interface SearchHit {
  listing: Listing;
  score: number;
  community_id: string;
  community_name: string;
  distance_m: number;
  reasons: string[];
}

export interface SearchResult {
  query: string;
  intent: Intent;
  engine: string;
  hint: string | null;
  // Nothing fitted well enough: the items are the nearest few, not matches.
  nearest: boolean;
  items: SearchHit[];
}

export interface Recommendation {
  listing: Listing;
  community_name: string;
  distance_m: number;
  reasons: { code: string; text: string }[];
}

export interface Recommendations {
  cold_start: boolean;
  items: Recommendation[];
}

export interface Reputation {
  user_id: string;
  rating_count: number;
  average: number | null;
}

export type OrderMode = "sale" | "consignment" | "rental";
export type Fulfilment = "face_to_face" | "self_pickup" | "delivery";

export interface Order {
  id: string;
  mode: OrderMode;
  status: string;
  listing_id: string;
  buyer_id: string;
  seller_id: string;
  merchant_id: string | null;
  fulfilment: Fulfilment;
  title: string;
  category: string;
  price_fen: number;
  deposit_fen: number;
  rent_per_day_fen: number | null;
  days: number | null;
  payment_id: string | null;
  /** Coupons (issue 18): absent from an API without them. pay_fen = price − discount. */
  discount_fen?: number;
  platform_discount_fen?: number;
  merchant_discount_fen?: number;
  pay_fen?: number;
  coupon_ids?: string[];
  cancel_reason: string | null;
  late_fee_fen: number | null;
  damage_fen: number | null;
  created_at: string;
  updated_at: string;
  paid_at: string | null;
  picked_up_at: string | null;
  due_at: string | null;
  returned_at: string | null;
  completed_at: string | null;
  cancelled_at: string | null;
  overdue_at: string | null;
}

export interface Payment {
  id: string;
  amount_fen: number;
  deposit_fen: number;
  total_fen: number;
  platform_discount_fen?: number;
  merchant_discount_fen?: number;
  description: string;
  provider: string;
  provider_intent_id: string | null;
  client_secret: string | null;
  status: "requires_payment" | "captured" | "failed";
  expires_at: string;
  rejected_reason: string | null;
}

export interface Rating {
  order_id: string;
  rater_id: string;
  ratee_id: string;
  score: number;
  comment: string;
  created_at: string;
}

export interface LockerCode {
  parcel_id: string;
  locker_id: string;
  slot_no: number;
  purpose: "deposit" | "pickup" | "return";
  code: string;
  expires_at: string;
}

export interface Locker {
  locker_id: string;
  name: string;
  location: string;
  online: boolean;
  available: number;
}
