// The shapes of the insights API (lago_rest/routes/insights.py).
export interface Hotness {
  category: string;
  name: string;
  score: number;
  views: number;
  favourites: number;
  searches: number;
  orders: number;
  gmv_fen: number;
  trend_percent: number | null;
}

export interface Risk {
  subject_kind: "listing" | "seller" | "merchant";
  subject_id: string;
  name: string;
  score: number;
  level: "low" | "medium" | "high";
  reasons: string[];
}

export interface Suggestions {
  week: string | null;
  items: { kind: string; text: string; category?: string | null }[];
  created_at: string | null;
}

export interface Bucket {
  label: string;
  count: number;
}

export interface Portrait {
  days: number;
  buyers: number | null;
  by_community: Bucket[];
  by_area: Bucket[];
  repeat_rate_percent: number | null;
  new_buyers: number | null;
  returning_buyers: number | null;
  by_gender: Bucket[];
  by_age: Bucket[];
  k: number;
}

export interface Period {
  start: string;
  end: string;
  members_joined: number;
  messages: number;
  orders: number;
  gmv_fen: number;
}

export interface Effect {
  kind: string;
  id: string;
  title: string;
  before: Period;
  during: Period;
  change_percent: Record<string, number | null>;
}

export interface Demographics {
  given: boolean;
  gender: "female" | "male" | "other" | null;
  birth_year: number | null;
  consented_at: string | null;
}
