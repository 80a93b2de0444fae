// The form for a new coupon template (POST /coupon-templates): amounts typed in yuan and 折, sent
// as integer fen and basis points; each field checked as it is sent, the API checks it again.
import { useId, useState, type FormEvent, type ReactNode } from "react";

import { http, query } from "../api/http";
import { fenOf } from "../resident/money";
import { coupons, resident } from "../strings";
import { Loading, useLoad } from "../ui/kit";
import { CouponError, couponErrorText } from "./parts";
import { type CouponKind, type CouponTemplate, type TemplateIn } from "./types";

const t = coupons.admin;
const f = t.form;

type Field = "name" | "amountOff" | "zhe" | "cap" | "threshold" | "totalCount" | "perUser" | "validDays" | "budget";

interface Draft {
  name: string;
  kind: CouponKind;
  amountOff: string;
  zhe: string;
  cap: string;
  threshold: string;
  categories: string[];
  listings: string[];
  totalCount: string;
  perUser: string;
  validDays: string;
  budget: string;
  claimable: boolean;
  newUser: boolean;
}

function whole(text: string, min: number, max: number): number | null {
  if (!/^\s*\d{1,7}\s*$/.test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}

/** "9" 折 → 1000 bps off; "8.5" → 1500; by digits, never through a float. */
function bpsOfZhe(text: string): number | null {
  const match = /^\s*(\d)(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!match) return null;
  const tenths = Number(match[1]) * 1000 + Number((match[2] ?? "").padEnd(3, "0"));
  const bps = 10_000 - tenths;
  return tenths >= 100 && bps >= 100 ? bps : null;
}

function check(draft: Draft, merchantId: string | null, platform: boolean): { body?: TemplateIn; problems: Partial<Record<Field, string>> } {
  const problems: Partial<Record<Field, string>> = {};
  const inv = t.invalid;
  const name = draft.name.trim();
  if (!name || name.length > 60) problems.name = inv.name;
  const threshold = fenOf(draft.threshold || "0");
  if (threshold === null) problems.threshold = inv.threshold;
  let amount: number | null = null;
  let bps: number | null = null;
  let cap: number | null = null;
  if (draft.kind === "amount_off") {
    amount = fenOf(draft.amountOff);
    if (!amount) problems.amountOff = inv.amountOff;
  } else {
    bps = bpsOfZhe(draft.zhe);
    if (bps === null) problems.zhe = inv.zhe;
    if (draft.cap.trim()) {
      cap = fenOf(draft.cap);
      if (!cap) problems.cap = inv.cap;
    }
  }
  let total: number | null = null;
  if (draft.totalCount.trim()) {
    total = whole(draft.totalCount, 1, 1_000_000);
    if (total === null) problems.totalCount = inv.totalCount;
  }
  const perUser = whole(draft.perUser, 1, 100);
  if (perUser === null) problems.perUser = inv.perUser;
  const days = whole(draft.validDays, 1, 366);
  if (days === null) problems.validDays = inv.validDays;
  let budget: number | null = null;
  if (merchantId) {
    budget = fenOf(draft.budget);
    if (!budget) problems.budget = inv.budget;
  }
  if (Object.keys(problems).length > 0 || threshold === null || perUser === null || days === null) return { problems };
  const body: TemplateIn = {
    name,
    kind: draft.kind,
    threshold_fen: threshold,
    categories: draft.categories,
    listing_ids: merchantId ? draft.listings : [],
    per_user_limit: perUser,
    valid_days: days,
    claimable: draft.claimable,
  };
  if (amount !== null) body.amount_off_fen = amount;
  if (bps !== null) body.percent_off_bps = bps;
  if (cap !== null) body.max_discount_fen = cap;
  if (total !== null) body.total_count = total;
  if (merchantId) {
    body.merchant_id = merchantId;
    if (budget !== null) body.budget_fen = budget;
  }
  if (platform) body.new_user = draft.newUser;
  return { body, problems };
}

/**
 * The form for a new template. `merchantId` set: a merchant coupon (budget, the store's listings
 * as scope); null: a platform coupon (the new-user flag).
 */
export function TemplateForm({ merchantId, onCreated }: { merchantId: string | null; onCreated: (template: CouponTemplate) => void }): ReactNode {
  const id = useId();
  const platform = merchantId === null;
  const [listings, listingsError] = useLoad(
    () =>
      merchantId
        ? http.get<{ items: { id: string; title: string; status: string }[] }>(`/merchants/${merchantId}/listings${query({ limit: 100 })}`)
        : Promise.resolve({ items: [] }),
    [merchantId],
  );
  const [draft, setDraft] = useState<Draft>({
    name: "",
    kind: "amount_off",
    amountOff: "",
    zhe: "",
    cap: "",
    threshold: "0",
    categories: [],
    listings: [],
    totalCount: "",
    perUser: "1",
    validDays: "30",
    budget: "",
    claimable: true,
    newUser: false,
  });
  const [shown, setShown] = useState<Partial<Record<Field, string>>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const set = <K extends keyof Draft>(key: K, value: Draft[K]): void => {
    setDraft((d) => ({ ...d, [key]: value }));
    if (key in shown) setShown((s) => ({ ...s, [key]: undefined }));
  };

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const { body, problems } = check(draft, merchantId, platform);
    setShown(problems);
    if (!body) {
      document.getElementById(`${id}-${Object.keys(problems)[0]}`)?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onCreated(await http.post<CouponTemplate>("/coupon-templates", body));
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  const input = (field: Field, label: string, hint?: string, inputMode: "decimal" | "numeric" = "decimal"): ReactNode => {
    const fieldId = `${id}-${field}`;
    const problem = shown[field];
    const described = [hint ? `${fieldId}-hint` : "", problem ? `${fieldId}-error` : ""].filter(Boolean).join(" ");
    return (
      <div className="field">
        <label htmlFor={fieldId}>{label}</label>
        <input
          id={fieldId}
          value={draft[field]}
          inputMode={field === "name" ? undefined : inputMode}
          onChange={(e) => set(field, e.target.value)}
          aria-invalid={problem ? true : undefined}
          aria-describedby={described || undefined}
        />
        {hint ? (
          <span id={`${fieldId}-hint`} className="muted small">
            {hint}
          </span>
        ) : null}
        {problem ? (
          <span id={`${fieldId}-error`} className="error small">
            {problem}
          </span>
        ) : null}
      </div>
    );
  };

  const toggle = (key: "categories" | "listings", value: string, on: boolean): void =>
    set(key, on ? [...draft[key], value] : draft[key].filter((v) => v !== value));
  const active = (listings?.items ?? []).filter((l) => l.status === "active");
  return (
    <form className="card form coupon-form" aria-labelledby={`${id}-heading`} onSubmit={(e) => void submit(e)} noValidate>
      <h2 id={`${id}-heading`}>{f.heading}</h2>
      {input("name", f.name, f.nameHint)}
      <fieldset>
        <legend>{f.kind}</legend>
        <div className="check-list">
          {(["amount_off", "percent_off"] as const).map((k) => (
            <label key={k}>
              <input type="radio" name={`${id}-kind`} checked={draft.kind === k} onChange={() => set("kind", k)} />
              {f.kinds[k]}
            </label>
          ))}
        </div>
      </fieldset>
      <div className="form-grid">
        {draft.kind === "amount_off" ? input("amountOff", f.amountOff) : input("zhe", f.zhe, f.zheHint)}
        {draft.kind === "percent_off" ? input("cap", f.cap) : null}
        {input("threshold", f.threshold, f.thresholdHint)}
      </div>
      <fieldset>
        <legend>{f.scope}</legend>
        <div className="check-list" role="group" aria-label={f.categories}>
          <span className="muted small">{f.categories}：</span>
          {Object.entries(resident.listing.categories).map(([key, label]) => (
            <label key={key}>
              <input type="checkbox" checked={draft.categories.includes(key)} onChange={(e) => toggle("categories", key, e.target.checked)} />
              {label}
            </label>
          ))}
        </div>
        {merchantId ? (
          <div className="check-list" role="group" aria-label={f.listings}>
            <span className="muted small">{f.listings}：</span>
            <CouponError error={listingsError} />
            {!listings && !listingsError ? <Loading /> : null}
            {listings && active.length === 0 ? <span className="muted small">{f.noListings}</span> : null}
            {active.map((l) => (
              <label key={l.id}>
                <input type="checkbox" checked={draft.listings.includes(l.id)} onChange={(e) => toggle("listings", l.id, e.target.checked)} />
                {l.title}
              </label>
            ))}
          </div>
        ) : null}
      </fieldset>
      <div className="form-grid">
        {input("totalCount", f.totalCount, f.totalCountHint, "numeric")}
        {input("perUser", f.perUser, undefined, "numeric")}
        {input("validDays", f.validDays, f.validDaysHint, "numeric")}
        {merchantId ? input("budget", f.budget, f.budgetHint) : null}
      </div>
      <label className="check-row">
        <input type="checkbox" checked={draft.claimable} onChange={(e) => set("claimable", e.target.checked)} />
        {f.claimable}
      </label>
      {platform ? (
        <label className="check-row">
          <input type="checkbox" checked={draft.newUser} onChange={(e) => set("newUser", e.target.checked)} />
          {f.newUser}
        </label>
      ) : null}
      {error ? (
        <p className="error" role="alert">
          {couponErrorText(error)}
        </p>
      ) : null}
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? f.submitting : f.submit}
        </button>
      </div>
    </form>
  );
}
