// The subscription endpoints (docs/subscriptions.md); amounts are integer fen.
import { http } from "../api/http";
import { newKey, postIdempotent } from "../channel/pay";

export interface Plan {
  code: string;
  name: string;
  kind: "membership" | "virtual_number";
  tier: number;
  monthly_price_fen: number;
  grants: { vn_buyers_per_month?: number | null; listing_cap?: number | null };
}

export interface Subscription {
  id: string;
  plan_code: string;
  plan_name: string | null;
  monthly_price_fen: number | null;
  kind: Plan["kind"];
  status: "pending" | "active" | "past_due" | "canceled" | "lapsed" | "abandoned";
  agreement_id: string | null;
  agreement_secret: string | null;
  agreement_signed_at: string | null;
  current_period_end: string | null;
  access_until: string | null;
  cancel_at_period_end: boolean;
  next_plan_code: string | null;
  first_period_granted_by: string | null;
  member_benefits: boolean;
}

export interface CallAnswer {
  mode: "number" | "guidance";
  number: string | null;
  expires_at: string | null;
  reason: "no_plan" | "seller_quota_reached" | null;
  guidance: string[] | null;
}

export interface Usage {
  month: string;
  plan_code: string | null;
  plan_name: string | null;
  buyer_limit: number | null;
  buyers: number;
  open_bindings: number;
  calls: number;
  call_seconds: number;
}

export const LIVE: ReadonlySet<Subscription["status"]> = new Set(["pending", "active", "past_due"]);

export const plans = (): Promise<Plan[]> => http.get<Plan[]>("/plans");
export const mySubscriptions = (): Promise<Subscription[]> => http.get<Subscription[]>("/me/subscriptions");
export const subscription = (id: string): Promise<Subscription> => http.get<Subscription>(`/subscriptions/${id}`);
export const subscribe = (plan: string, key: string): Promise<Subscription> => postIdempotent<Subscription>("/subscriptions", key, { plan });
export const change = (id: string, plan: string, key: string): Promise<Subscription> =>
  postIdempotent<Subscription>(`/subscriptions/${id}/change`, key, { plan });
export const cancel = (id: string): Promise<Subscription> => http.post<Subscription>(`/subscriptions/${id}/cancel`);
export { newKey };
