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
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}
