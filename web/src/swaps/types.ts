export type SwapStatus = "offered" | "accepted" | "paid" | "completed" | "declined" | "withdrawn" | "expired" | "cancelled";

export interface Swap {
  id: string;
  status: SwapStatus;
  listing_id: string;
  owner_id: string;
  offered_listing_id: string;
  proposer_id: string;
  difference_fen: number;
  difference_payer: "proposer" | "owner" | null;
  payer_id: string | null;
  payee_id: string | null;
  message: string;
  payment_id: string | null;
  proposer_confirmed_at: string | null;
  owner_confirmed_at: string | null;
  cancel_reason: string | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  listing_title: string;
  listing_price_fen: number | null;
  listing_image: string | null;
  offered_title: string;
  offered_price_fen: number | null;
  offered_image: string | null;
  my_side: "owner" | "proposer" | null;
}
