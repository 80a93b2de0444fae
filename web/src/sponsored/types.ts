export interface SponsorShow {
  session_id: string;
  slot_id: string;
  brand: string;
  title: string;
  link_url: string;
  image_url: string | null;
  duration_s: number;
  shown_at?: string;
}

export interface Campaign {
  id: string;
  brand_id: string;
  brand_name: string;
  name: string;
  price_fen: number;
  created_at: string;
}

export interface ReportLine {
  slot_id: string;
  community_id: string;
  community_name: string;
  creative_title: string;
  shows: number;
  impressions: number;
  unique_viewers: number;
  clicks: number;
  unique_clickers: number;
  ctr: number;
}

export interface Report {
  campaign: Campaign;
  lines: ReportLine[];
  totals: Record<string, number>;
}
