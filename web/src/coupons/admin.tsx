// Coupon templates for those who give coupons: the merchant back office (商家券, funded by the
// store, with a budget and a scope from its catalogue) and the console (平台券, with the new-user
// flag). One list, one form, one grant and one end dialog, used by both.
//
// API: POST /coupon-templates, POST /coupon-templates/{id}/end, POST /coupon-templates/{id}/grants;
// the lists are read by the pages (GET /merchants/{id}/coupon-templates, GET /coupon-templates?funded_by=platform).
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode, type RefObject } from "react";

import { http, query } from "../api/http";
import { fenOf } from "../resident/money";
import { common, coupons, resident } from "../strings";
import { Loading, useLoad } from "../ui/kit";
import { CouponError, couponErrorText, ruleText } from "./parts";
import { type CouponKind, type CouponTemplate, type GrantResult, type TemplateIn } from "./types";

const t = coupons.admin;
const f = t.form;

/** A native modal <dialog>, open while mounted (focus stays inside, Escape closes it). */
function useDialog(): RefObject<HTMLDialogElement | null> {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return ref;
}

const localDay = (iso: string): string => new Date(iso).toLocaleDateString("zh-CN");

/** The templates as a table, with 发放 and 结束 for the active ones. */
export function TemplateTable({
  templates,
  error,
  onRetry,
  onChanged,
  showBudget,
}: {
  templates: CouponTemplate[] | undefined;
  error: unknown;
  onRetry: () => void;
  onChanged: (notice: string) => void;
  showBudget: boolean;
}): ReactNode {
  const [granting, setGranting] = useState<CouponTemplate | null>(null);
  const [ending, setEnding] = useState<CouponTemplate | null>(null);
  if (!templates) {
    if (!error) return <Loading />;
    return (
      <button type="button" onClick={onRetry}>
        {common.retry}
      </button>
    );
  }
  if (templates.length === 0) return <p className="muted empty">{t.empty}</p>;
  const c = t.columns;
  return (
    <>
      <table className="orders-table coupon-table">
        <thead>
          <tr>
            <th scope="col">{c.name}</th>
            <th scope="col">{c.rule}</th>
            <th scope="col">{c.issued}</th>
            <th scope="col">{c.used}</th>
            <th scope="col">{showBudget ? c.budget : c.discount}</th>
            <th scope="col">{c.validity}</th>
            <th scope="col">{c.status}</th>
            <th scope="col">{c.actions}</th>
          </tr>
        </thead>
        <tbody>
          {templates.map((tpl) => (
            <tr key={tpl.id} data-template-id={tpl.id}>
              <th scope="row">
                {tpl.name}
                <span className="muted small block">
                  {[tpl.claimable ? t.claimable : "", tpl.new_user ? t.newUser : ""].filter(Boolean).join(" · ")}
                </span>
              </th>
              <td>
                <strong>{coupons.face(tpl)}</strong>
                <span className="muted small block">{ruleText(tpl)}</span>
              </td>
              <td>{t.issued(tpl.issued_count, tpl.total_count)}</td>
              <td>{tpl.used_count}</td>
              <td>
                {showBudget && tpl.budget_fen !== null
                  ? t.budgetUsed(common.yuan(tpl.discount_given_fen ?? 0), common.yuan(tpl.budget_fen))
                  : common.yuan(tpl.discount_given_fen ?? 0)}
              </td>
              <td>
                {coupons.validDays(tpl.valid_days)}
                <span className="muted small block">{t.createdOn(localDay(tpl.created_at))}</span>
              </td>
              <td>
                <span className={`badge ${tpl.status === "active" ? "verified" : ""}`}>{coupons.templateStatuses[tpl.status] ?? tpl.status}</span>
              </td>
              <td>
                {tpl.status === "active" ? (
                  <>
                    <button type="button" aria-label={t.grantOf(tpl.name)} onClick={() => setGranting(tpl)}>
                      {t.grant}
                    </button>
                    <button type="button" className="danger" aria-label={t.endOf(tpl.name)} onClick={() => setEnding(tpl)}>
                      {t.end}
                    </button>
                  </>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {granting ? (
        <GrantDialog
          template={granting}
          onClose={() => setGranting(null)}
          onGranted={(n) => onChanged(coupons.admin.granted(n))}
        />
      ) : null}
      {ending ? (
        <EndDialog
          template={ending}
          onClose={() => setEnding(null)}
          onEnded={() => {
            setEnding(null);
            onChanged(t.ended(ending.name));
          }}
        />
      ) : null}
    </>
  );
}

function EndDialog({ template, onClose, onEnded }: { template: CouponTemplate; onClose: () => void; onEnded: () => void }): ReactNode {
  const ref = useDialog();
  const headingId = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const end = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await http.post<CouponTemplate>(`/coupon-templates/${template.id}/end`);
      onEnded();
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} className="coupon-dialog" aria-labelledby={headingId} onClose={onClose} onCancel={onClose}>
      <h2 id={headingId}>{t.endTitle}</h2>
      <p>{t.endConfirm(template.name)}</p>
      <CouponError error={error} />
      <div className="row">
        <button type="button" onClick={onClose} disabled={busy}>
          {common.cancel}
        </button>
        <button type="button" className="danger" onClick={() => void end()} disabled={busy}>
          {t.doEnd}
        </button>
      </div>
    </dialog>
  );
}

/** Phones typed one a line (or separated by commas or spaces). */
function phonesOf(text: string): string[] {
  return [...new Set(text.split(/[\s,，;；]+/).map((p) => p.trim()).filter(Boolean))];
}

function GrantDialog({ template, onClose, onGranted }: { template: CouponTemplate; onClose: () => void; onGranted: (n: number) => void }): ReactNode {
  const ref = useDialog();
  const id = useId();
  const [text, setText] = useState("");
  const [invalid, setInvalid] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<GrantResult | null>(null);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const phones = phonesOf(text);
    if (phones.length === 0 || phones.length > 100) {
      setInvalid(true);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const answer = await http.post<GrantResult>(`/coupon-templates/${template.id}/grants`, { phones });
      setResult(answer);
      onGranted(answer.granted.length);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} className="coupon-dialog" aria-labelledby={`${id}-title`} onClose={onClose} onCancel={onClose}>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate>
        <h2 id={`${id}-title`}>{t.grantTitle(template.name)}</h2>
        <div className="field">
          <label htmlFor={`${id}-phones`}>{t.phones}</label>
          <textarea
            id={`${id}-phones`}
            rows={4}
            value={text}
            aria-invalid={invalid || undefined}
            aria-describedby={invalid ? `${id}-invalid` : undefined}
            onChange={(e) => {
              setText(e.target.value);
              setInvalid(false);
            }}
          />
          {invalid ? (
            <span id={`${id}-invalid`} className="error small">
              {t.phonesInvalid}
            </span>
          ) : null}
        </div>
        <CouponError error={error} />
        {result ? (
          <div role="status">
            <p className="notice">{t.granted(result.granted.length)}</p>
            {result.refused.length > 0 ? (
              <>
                <p className="error">{t.refused}</p>
                <ul aria-label={t.refused}>
                  {result.refused.map((r) => (
                    <li key={r.phone ?? r.user_id}>{t.refusedRow(r.phone ?? r.user_id ?? "", coupons.errors[r.code] ?? r.code)}</li>
                  ))}
                </ul>
              </>
            ) : null}
          </div>
        ) : null}
        <div className="row">
          <button type="button" onClick={onClose} disabled={busy}>
            {common.close}
          </button>
          <button type="submit" className="primary" disabled={busy}>
            {t.doGrant}
          </button>
        </div>
      </form>
    </dialog>
  );
}

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

/** A page's frame around the table and the form: the create toggle and the notice line. */
export function TemplatesScreen({
  intro,
  merchantId,
  templates,
  error,
  reload,
  showBudget,
}: {
  intro: string;
  merchantId: string | null;
  templates: CouponTemplate[] | undefined;
  error: unknown;
  reload: () => void;
  showBudget: boolean;
}): ReactNode {
  const [open, setOpen] = useState(false);
  const [notice, setNotice] = useState("");
  return (
    <>
      <p className="muted">{intro}</p>
      <div className="row">
        <button type="button" className={open ? undefined : "primary"} aria-expanded={open} onClick={() => setOpen((o) => !o)}>
          {open ? t.hideForm : t.create}
        </button>
      </div>
      <p className="notice" role="status">
        {notice}
      </p>
      {open ? (
        <TemplateForm
          merchantId={merchantId}
          onCreated={(tpl) => {
            setOpen(false);
            setNotice(t.created(tpl.name));
            reload();
          }}
        />
      ) : null}
      <CouponError error={error} />
      <TemplateTable
        templates={templates}
        error={error}
        onRetry={reload}
        showBudget={showBudget}
        onChanged={(text) => {
          setNotice(text);
          reload();
        }}
      />
    </>
  );
}
