// The one way the app talks to the REST API (/api/v1). The session lives in HttpOnly cookies the
// page cannot read (docs/architecture.md, "Browser sessions"); an expired access cookie is renewed
// once through /auth/refresh and the request repeated. Errors arrive as ApiError with the API's
// code, so screens show the sentence from src/strings and never a raw status.

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
  }
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Asks for cookies instead of tokens in the body; see lago_rest/routes/auth.py. */
export const SESSION_HEADER = { "X-Lago-Session": "cookie" } as const;

let refreshing: Promise<boolean> | null = null;
let onSignedOut: (() => void) | null = null;

/** Called when the session cannot be renewed (logged out elsewhere, expired refresh). */
export function whenSignedOut(callback: () => void): void {
  onSignedOut = callback;
}

// Tabs share the cookies, and a refresh token works once (a reused one ends the session, as a
// stolen one would): tabs take turns through a Web Lock, and a tab whose request went out before
// another tab's renewal just uses the new cookies. Only the time of the last renewal is stored.
const RENEWED_AT = "renewedAt";

/** Renew the session cookies once for everyone waiting; false when the session is over. */
export async function renewSession(requestedAt: number = Date.now()): Promise<boolean> {
  const renew = async (): Promise<boolean> => {
    if (Number(localStorage.getItem(RENEWED_AT) ?? 0) > requestedAt) return true;
    const ok = await fetch(`${API}/auth/refresh`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", ...SESSION_HEADER },
      body: "{}",
    })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) localStorage.setItem(RENEWED_AT, String(Date.now()));
    return ok;
  };
  const turn: Promise<boolean> = navigator.locks
    ? // The lock resolves with what the callback's promise resolves to.
      (navigator.locks.request("lago-session-renewal", renew) as unknown as Promise<boolean>)
    : renew();
  refreshing ??= turn.finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function send(method: Method, path: string, body?: BodyInit, json = true, extra: Record<string, string> = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json", ...SESSION_HEADER, ...extra };
  if (json && body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(`${API}${path}`, { method, body, headers, credentials: "same-origin" });
}

async function errorOf(response: Response): Promise<ApiError> {
  try {
    const payload = (await response.json()) as { error?: { code?: string; message?: string; details?: unknown } };
    const error = payload.error ?? {};
    return new ApiError(response.status, error.code ?? "http_error", error.message ?? response.statusText, error.details);
  } catch {
    return new ApiError(response.status, "http_error", response.statusText);
  }
}

const RENEWABLE = new Set(["invalid_token", "token_expired", "unauthenticated"]);
export const SESSION_OVER = new Set(["session_revoked"]);

async function request<T>(method: Method, path: string, body?: BodyInit, json = true, extra: Record<string, string> = {}): Promise<T> {
  const requestedAt = Date.now();
  let response: Response;
  try {
    response = await send(method, path, body, json, extra);
  } catch {
    throw new ApiError(0, "network", "network unavailable");
  }
  if (response.status === 401 && !path.startsWith("/auth/")) {
    const error = await errorOf(response);
    if (!RENEWABLE.has(error.code)) throw error;
    if (await renewSession(requestedAt)) {
      response = await send(method, path, body, json, extra);
    } else {
      onSignedOut?.();
      throw error;
    }
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const http = {
  get: <T>(path: string): Promise<T> => request<T>("GET", path),
  post: <T>(path: string, body: unknown = {}): Promise<T> => request<T>("POST", path, JSON.stringify(body)),
  /** A POST that moves money: the same key on a retry (a renewal included) has the effect once. */
  postOnce: <T>(path: string, key: string, body: unknown = {}): Promise<T> =>
    request<T>("POST", path, JSON.stringify(body), true, { "Idempotency-Key": key }),
  put: <T>(path: string, body: unknown = {}): Promise<T> => request<T>("PUT", path, JSON.stringify(body)),
  patch: <T>(path: string, body: unknown = {}): Promise<T> => request<T>("PATCH", path, JSON.stringify(body)),
  delete: <T>(path: string): Promise<T> => request<T>("DELETE", path),
  /** A file as multipart/form-data in a part named `file` (what every upload endpoint reads). */
  upload: <T>(path: string, file: Blob, name = "upload", method: "POST" | "PUT" = "POST"): Promise<T> => {
    const form = new FormData();
    form.append("file", file, name);
    return request<T>(method, path, form, false);
  },
};

/** Query string of the defined values, for GET paths. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
