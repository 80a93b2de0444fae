// Paying through the payment provider's page: create the payment (here, for a group-buy seat),
// pay its intent on the sandbox provider, then follow the payment until the provider's webhook
// captured it (docs/money.md, docs/groupbuys.md "Paying"). Amounts are integer fen.
import { ApiError, API, SESSION_HEADER, http } from "../api/http";

export interface Payment {
  id: string;
  reference_type: string;
  reference_id: string;
  description: string;
  amount_fen: number;
  deposit_fen: number;
  total_fen: number;
  /** The coupons' parts of the price (issue 18): amount_fen is the group price less both. */
  platform_discount_fen?: number;
  merchant_discount_fen?: number;
  provider: string;
  provider_intent_id: string | null;
  client_secret: string | null;
  status: "requires_payment" | "captured" | "failed";
  refunded_fen: number;
  expires_at: string;
  captured_at: string | null;
  rejected_reason: string | null;
}

/** A POST that needs an `Idempotency-Key` (the shared client sends no extra headers). */
export async function postIdempotent<T>(path: string, key: string, body: unknown = {}): Promise<T> {
  const attempt = (): Promise<Response> =>
    fetch(`${API}${path}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "Idempotency-Key": key, ...SESSION_HEADER },
      body: JSON.stringify(body),
    });
  let response: Response;
  try {
    response = await attempt();
    if (response.status === 401) {
      // An expired access cookie: any request through the shared client renews it; the key
      // makes the repeat safe.
      await http.get("/me");
      response = await attempt();
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(0, "network", "network unavailable");
  }
  const payload = (await response.json().catch(() => ({}))) as T & { error?: { code?: string; message?: string; details?: unknown } };
  if (!response.ok) {
    const error = payload.error ?? {};
    throw new ApiError(response.status, error.code ?? "http_error", error.message ?? response.statusText, error.details);
  }
  return payload;
}

/** The payment for the caller's reserved seat in a group (the same key gives the same payment),
 * with the coupons chosen for it (issue 18; none: the body it always was). */
export function paySeat(groupId: string, key: string, couponIds: string[] = []): Promise<Payment> {
  return postIdempotent<Payment>(`/group-buys/${groupId}/pay`, key, couponIds.length ? { coupon_ids: couponIds } : {});
}

/** The sandbox provider's pay page: pay (or fail, to try the failure path) an intent. */
export function sandboxPay(payment: Payment, outcome: "succeed" | "fail"): Promise<unknown> {
  return http.post(`/sandbox/intents/${payment.provider_intent_id ?? ""}/pay`, {
    client_secret: payment.client_secret,
    outcome,
  });
}

export function getPayment(id: string): Promise<Payment> {
  return http.get<Payment>(`/payments/${id}`);
}

export function newKey(): string {
  return crypto.randomUUID();
}
