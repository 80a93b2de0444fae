// The coupon templates as a table for those who give them (merchant back office, console), with
// granting to phones and ending in modal dialogs. API: POST /coupon-templates/{id}/grants,
// POST /coupon-templates/{id}/end.
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode, type RefObject } from "react";

import { http } from "../api/http";
import { common, coupons } from "../strings";
import { Loading } from "../ui/kit";
import { CouponError, ruleText } from "./parts";
import { type CouponTemplate, type GrantResult } from "./types";

const t = coupons.admin;

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
