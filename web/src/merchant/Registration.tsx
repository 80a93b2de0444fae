// Registration (注册与认证, 004 §2.4): the wizard — company information, the 统一社会信用代码
// checked as it is typed, the licence upload with a preview — then the review status, and after a
// rejection the same wizard again to correct and resubmit.
//
// API: POST /merchants, PATCH /merchants/{id}/registration, POST|GET|DELETE
// /merchants/{id}/documents, POST /merchants/{id}/submit, GET /merchants/{id}/reviews.
import { useEffect, useId, useMemo, useState, type FormEvent, type ReactNode } from "react";
import { useNavigate } from "react-router";

import { http, query } from "../api/http";
import { common, merchant as t } from "../strings";
import { Loading, Page, useLoad } from "../ui/kit";
import {
  localTime,
  type DocumentKind,
  type Merchant,
  type MerchantDocument,
  type Registration,
  type ReviewEntry,
} from "./api";
import { useMerchant } from "./context";
import { canonicalCreditCode, creditCodeProblem } from "./creditCode";
import { Pill, Problem, STATUS_TONE } from "./parts";

const MAX_BYTES = 5 * 1024 * 1024;
const REVIEW_POLL_MS = 15_000;
const DOCUMENT_TYPES = new Set(["application/pdf", "image/jpeg", "image/png", "image/webp"]);
const COMPANY_FIELDS = ["legal_name", "legal_representative", "contact_phone", "address", "business_scope"] as const;
type CompanyField = (typeof COMPANY_FIELDS)[number];
const FIELD_LABEL: Record<CompanyField, string> = {
  legal_name: t.wizard.legalName,
  legal_representative: t.wizard.legalRepresentative,
  contact_phone: t.wizard.contactPhone,
  address: t.wizard.address,
  business_scope: t.wizard.businessScope,
};

/** /merchant/apply: a new store's wizard; the store is created when step 1 is saved. */
export function WizardForNewMerchant({ onCreated }: { onCreated: (id: string) => Promise<void> }): ReactNode {
  const navigate = useNavigate();
  return (
    <Wizard
      merchantId={null}
      registration={null}
      documents={[]}
      onCreated={onCreated}
      onSubmitted={() => navigate("/merchant/registration")}
    />
  );
}

/** /merchant/registration: the wizard while a draft, otherwise where the review stands. */
export function RegistrationPage(): ReactNode {
  const { merchant, role, reload } = useMerchant();
  const [round, setRound] = useState(0);
  const [editing, setEditing] = useState(false);
  const [data, error] = useLoad(
    () =>
      Promise.all([
        http.get<Registration>(`/merchants/${merchant.id}/registration`),
        http.get<MerchantDocument[]>(`/merchants/${merchant.id}/documents`),
        http.get<ReviewEntry[]>(`/merchants/${merchant.id}/reviews`),
      ]),
    [merchant.id, round],
  );
  const underReview = data?.[0].status === "submitted" || data?.[0].status === "resubmitted";
  // While the platform reviews, look again now and then: the decision shows without a reload.
  useEffect(() => {
    if (!underReview) return;
    const timer = window.setInterval(() => setRound((r) => r + 1), REVIEW_POLL_MS);
    return () => window.clearInterval(timer);
  }, [underReview]);
  useEffect(() => {
    if (data && data[0].status !== merchant.status) void reload();
  }, [data, merchant.status, reload]);
  if (error) return <Page title={t.review.title}><Problem error={error} /></Page>;
  if (!data) return <Loading />;
  const [registration, documents, reviews] = data;
  const refresh = (): void => {
    setRound((r) => r + 1);
    void reload();
  };
  if (role === "owner" && (registration.status === "draft" || (registration.status === "rejected" && editing))) {
    return (
      <Wizard
        merchantId={merchant.id}
        registration={registration}
        documents={documents}
        onSubmitted={() => {
          setEditing(false);
          refresh();
        }}
      />
    );
  }
  return (
    <ReviewStatus
      merchant={merchant}
      registration={registration}
      documents={documents}
      reviews={reviews}
      canEdit={role === "owner"}
      onEdit={() => setEditing(true)}
      onRefresh={refresh}
    />
  );
}

function ReviewStatus({
  merchant,
  registration,
  documents,
  reviews,
  canEdit,
  onEdit,
  onRefresh,
}: {
  merchant: Merchant;
  registration: Registration;
  documents: MerchantDocument[];
  reviews: ReviewEntry[];
  canEdit: boolean;
  onEdit: () => void;
  onRefresh: () => void;
}): ReactNode {
  const status = registration.status;
  return (
    <Page
      title={t.review.title}
      actions={<button type="button" onClick={onRefresh}>{t.review.refresh}</button>}
    >
      <div className={`card review-state ${status}`} data-testid="review-status">
        <h2>
          {merchant.name} <Pill tone={STATUS_TONE[status] ?? ""}>{t.statuses[status] ?? status}</Pill>
        </h2>
        {status === "submitted" || status === "resubmitted" ? <p>{t.review.submitted}</p> : null}
        {status === "approved" ? <p className="notice">{t.review.approved}</p> : null}
        {status === "rejected" ? (
          <>
            <p className="error">
              {t.review.rejected}
              {registration.rejection_reason ? `，${t.review.reason}${registration.rejection_reason}` : ""}
            </p>
            {canEdit ? (
              <button type="button" className="primary" onClick={onEdit}>{t.review.fix}</button>
            ) : null}
          </>
        ) : null}
        {status === "draft" ? <p className="muted">{t.ownerOnly}</p> : null}
      </div>
      <Summary registration={registration} documents={documents} />
      <h2>{t.review.history}</h2>
      {reviews.length === 0 ? (
        <p className="muted">{common.empty}</p>
      ) : (
        <ol className="timeline">
          {reviews.map((r) => (
            <li key={r.id}>
              <time dateTime={r.created_at}>{localTime(r.created_at)}</time>{" "}
              <strong>{t.review.actions[r.action] ?? r.action}</strong>
              {r.actor_name ? ` · ${r.actor_name}` : ""}
              {r.reason ? ` · ${t.review.reason}${r.reason}` : ""}
            </li>
          ))}
        </ol>
      )}
    </Page>
  );
}

function Summary({ registration, documents }: { registration: Registration; documents: MerchantDocument[] }): ReactNode {
  return (
    <dl className="summary card">
      {COMPANY_FIELDS.map((f) => (
        <div key={f}>
          <dt>{FIELD_LABEL[f]}</dt>
          <dd>{registration[f] ?? "—"}</dd>
        </div>
      ))}
      <div>
        <dt>{t.wizard.creditCode}</dt>
        <dd className="mono">{registration.credit_code ?? "—"}</dd>
      </div>
      <div>
        <dt>{t.wizard.documents}</dt>
        <dd>
          {documents.length === 0
            ? t.wizard.noDocuments
            : documents.map((d) => (
                <a key={d.id} href={d.url} target="_blank" rel="noreferrer" className="doc-link">
                  {t.wizard.kinds[d.kind] ?? d.kind}
                </a>
              ))}
        </dd>
      </div>
    </dl>
  );
}

type Fields = Record<CompanyField, string>;

function Wizard({
  merchantId: initialId,
  registration,
  documents: initialDocuments,
  onCreated,
  onSubmitted,
}: {
  merchantId: string | null;
  registration: Registration | null;
  documents: MerchantDocument[];
  onCreated?: (id: string) => Promise<void>;
  onSubmitted: () => void;
}): ReactNode {
  const [merchantId, setMerchantId] = useState(initialId);
  const [step, setStep] = useState(0);
  const [storeName, setStoreName] = useState("");
  const [fields, setFields] = useState<Fields>(() => {
    const out = {} as Fields;
    for (const f of COMPANY_FIELDS) out[f] = registration?.[f] ?? "";
    return out;
  });
  const [email, setEmail] = useState(registration?.contact_email ?? "");
  const [code, setCode] = useState(registration?.credit_code ?? "");
  const [documents, setDocuments] = useState(initialDocuments);
  const [saved, setSaved] = useState<Registration | null>(registration);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [touched, setTouched] = useState(false);
  const headingId = useId();

  const resubmitting = registration?.status === "rejected";
  const missing = COMPANY_FIELDS.filter((f) => !fields[f].trim());
  const storeMissing = merchantId === null && !storeName.trim();
  const codeProblem = creditCodeProblem(code);
  const hasLicence = documents.some((d) => d.kind === "business_licence");

  const run = async (work: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const saveCompany = async (): Promise<void> => {
    setTouched(true);
    if (missing.length || storeMissing) return;
    await run(async () => {
      let id = merchantId;
      if (id === null) {
        const created = await http.post<Merchant>("/merchants", { name: storeName.trim() });
        id = created.id;
        setMerchantId(id);
        await onCreated?.(id);
      }
      const body: Partial<Fields> & { contact_email?: string } = {};
      for (const f of COMPANY_FIELDS) body[f] = fields[f].trim();
      // Optional: the review decision is e-mailed here as well as sent by SMS.
      if (email.trim()) body.contact_email = email.trim();
      setSaved(await http.patch<Registration>(`/merchants/${id}/registration`, body));
      setTouched(false);
      setStep(1);
    });
  };

  const saveCode = async (): Promise<void> => {
    setTouched(true);
    if (codeProblem || merchantId === null) return;
    await run(async () => {
      setSaved(
        await http.patch<Registration>(`/merchants/${merchantId}/registration`, {
          credit_code: canonicalCreditCode(code),
        }),
      );
      setTouched(false);
      setStep(2);
    });
  };

  const submit = async (): Promise<void> => {
    if (merchantId === null) return;
    await run(async () => {
      await http.post<Registration>(`/merchants/${merchantId}/submit`);
      onSubmitted();
    });
  };

  const onSubmitStep = (event: FormEvent): void => {
    event.preventDefault();
    if (busy) return;
    if (step === 0) void saveCompany();
    else if (step === 1) void saveCode();
    else if (step === 2) {
      setTouched(true);
      if (hasLicence) {
        setTouched(false);
        setStep(3);
      }
    } else void submit();
  };

  return (
    <Page title={t.wizard.title}>
      <ol className="steps" aria-label={t.wizard.stepOf(step + 1, t.wizard.steps.length)}>
        {t.wizard.steps.map((name, i) => (
          <li key={name} className={i === step ? "current" : i < step ? "done" : ""} aria-current={i === step ? "step" : undefined}>
            <span className="step-no" aria-hidden="true">{i + 1}</span> {name}
          </li>
        ))}
      </ol>
      <form className="form card wizard" onSubmit={onSubmitStep} aria-labelledby={headingId} noValidate>
        <h2 id={headingId}>
          {t.wizard.steps[step]} <span className="muted small">{t.wizard.stepOf(step + 1, t.wizard.steps.length)}</span>
        </h2>
        {step === 0 ? (
          <>
            {merchantId === null ? (
              <TextField
                label={t.wizard.storeName}
                hint={t.wizard.storeNameHint}
                value={storeName}
                onChange={setStoreName}
                invalid={touched && storeMissing}
                maxLength={100}
              />
            ) : null}
            {COMPANY_FIELDS.map((f) => (
              <TextField
                key={f}
                label={FIELD_LABEL[f]}
                value={fields[f]}
                onChange={(v) => setFields((prev) => ({ ...prev, [f]: v }))}
                invalid={touched && !fields[f].trim()}
                multiline={f === "business_scope"}
                type={f === "contact_phone" ? "tel" : "text"}
                maxLength={f === "business_scope" ? 2000 : f === "legal_representative" ? 50 : f === "contact_phone" ? 30 : 200}
              />
            ))}
            <TextField
              label={t.wizard.contactEmail}
              hint={t.wizard.contactEmailHint}
              value={email}
              onChange={setEmail}
              invalid={false}
              type="email"
              maxLength={254}
              optional
            />
          </>
        ) : null}
        {step === 1 ? <CreditCodeField value={code} onChange={setCode} touched={touched} /> : null}
        {step === 2 && merchantId !== null ? (
          <Documents
            merchantId={merchantId}
            documents={documents}
            onChange={setDocuments}
            missingLicence={touched && !hasLicence}
          />
        ) : null}
        {step === 3 && saved ? (
          <>
            <p>{t.wizard.review}</p>
            <Summary registration={saved} documents={documents} />
          </>
        ) : null}
        <Problem error={error} />
        <div className="row wizard-actions">
          {step > 0 ? (
            <button type="button" onClick={() => setStep((s) => s - 1)} disabled={busy}>
              {t.wizard.previous}
            </button>
          ) : null}
          <button type="submit" className="primary" disabled={busy}>
            {busy
              ? step === 3
                ? t.wizard.submitting
                : t.wizard.saving
              : step === 3
                ? resubmitting
                  ? t.wizard.resubmit
                  : t.wizard.submit
                : t.wizard.next}
          </button>
        </div>
      </form>
    </Page>
  );
}

function TextField({
  label,
  hint,
  value,
  onChange,
  invalid,
  multiline,
  type = "text",
  maxLength,
  optional = false,
}: {
  label: string;
  hint?: string;
  value: string;
  onChange: (value: string) => void;
  invalid: boolean;
  multiline?: boolean;
  type?: string;
  maxLength: number;
  optional?: boolean;
}): ReactNode {
  const id = useId();
  const described = [hint ? `${id}-hint` : "", invalid ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  const common = {
    id,
    value,
    maxLength,
    required: !optional,
    "aria-invalid": invalid || undefined,
    "aria-describedby": described,
  };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {multiline ? (
        <textarea {...common} rows={3} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input {...common} type={type} onChange={(e) => onChange(e.target.value)} />
      )}
      {hint ? <span id={`${id}-hint`} className="muted small">{hint}</span> : null}
      {invalid ? <span id={`${id}-error`} className="error small">{t.wizard.required}</span> : null}
    </div>
  );
}

function CreditCodeField({ value, onChange, touched }: { value: string; onChange: (v: string) => void; touched: boolean }): ReactNode {
  const id = useId();
  const problem = creditCodeProblem(value);
  const canonical = canonicalCreditCode(value);
  // Still typing (too short, nothing wrong yet) is a hint; a wrong character or check digit is an
  // error at once — that is the point of checking as the merchant types.
  const isError = problem !== null && (problem !== "length" || touched);
  const message =
    problem === null
      ? t.wizard.creditCodeOk
      : problem === "length"
        ? canonical.length === 0 && !touched
          ? t.wizard.creditCodeHint
          : t.wizard.creditCodeErrors.length(canonical.length)
        : t.wizard.creditCodeErrors[problem];
  return (
    <div className="field">
      <label htmlFor={id}>{t.wizard.creditCode}</label>
      <input
        id={id}
        className="mono credit-code"
        value={value}
        onChange={(e) => onChange(e.target.value.toUpperCase())}
        maxLength={22}
        autoComplete="off"
        spellCheck={false}
        aria-invalid={isError || undefined}
        aria-describedby={`${id}-msg`}
      />
      <span
        id={`${id}-msg`}
        className={problem === null ? "notice small" : isError ? "error small" : "muted small"}
        aria-live="polite"
        data-testid="credit-code-message"
      >
        {message}
      </span>
      <span className="muted small">{`${canonical.length}/18`}</span>
    </div>
  );
}

const KINDS: DocumentKind[] = ["business_licence", "other_permit", "food_permit"];
const KIND_LABEL: Record<DocumentKind, string> = {
  business_licence: t.wizard.licence,
  other_permit: t.wizard.otherPermit,
  food_permit: t.wizard.foodPermit,
};

function Documents({
  merchantId,
  documents,
  onChange,
  missingLicence,
}: {
  merchantId: string;
  documents: MerchantDocument[];
  onChange: (documents: MerchantDocument[]) => void;
  missingLicence: boolean;
}): ReactNode {
  return (
    <>
      <p className="muted">{t.wizard.licenceHint}</p>
      {KINDS.map((kind) => (
        <DocumentSlot
          key={kind}
          merchantId={merchantId}
          kind={kind}
          documents={documents.filter((d) => d.kind === kind)}
          onAdded={(d) => onChange([...documents, d])}
          onRemoved={(id) => onChange(documents.filter((d) => d.id !== id))}
          missing={kind === "business_licence" && missingLicence}
        />
      ))}
    </>
  );
}

function fileProblem(file: File): string | null {
  if (!DOCUMENT_TYPES.has(file.type)) return t.wizard.fileType;
  if (file.size > MAX_BYTES) return t.wizard.fileTooBig((file.size / 1024 / 1024).toFixed(1));
  return null;
}

function DocumentSlot({
  merchantId,
  kind,
  documents,
  onAdded,
  onRemoved,
  missing,
}: {
  merchantId: string;
  kind: DocumentKind;
  documents: MerchantDocument[];
  onAdded: (d: MerchantDocument) => void;
  onRemoved: (id: string) => void;
  missing: boolean;
}): ReactNode {
  const id = useId();
  const [file, setFile] = useState<File | null>(null);
  const [inputKey, setInputKey] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const problem = file ? fileProblem(file) : null;
  const preview = useMemo(() => (file && !problem && file.type.startsWith("image/") ? URL.createObjectURL(file) : null), [file, problem]);
  useEffect(() => () => {
    if (preview) URL.revokeObjectURL(preview);
  }, [preview]);

  const upload = async (): Promise<void> => {
    if (!file || problem) return;
    setBusy(true);
    setError(null);
    try {
      onAdded(await http.upload<MerchantDocument>(`/merchants/${merchantId}/documents${query({ kind })}`, file, file.name));
      setFile(null);
      setInputKey((k) => k + 1);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const remove = async (documentId: string): Promise<void> => {
    if (!window.confirm(t.wizard.removeConfirm)) return;
    setBusy(true);
    setError(null);
    try {
      await http.delete(`/merchants/${merchantId}/documents/${documentId}`);
      onRemoved(documentId);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <fieldset className="document-slot">
      <legend>{KIND_LABEL[kind]}</legend>
      {documents.map((d) => (
        <div key={d.id} className="row uploaded">
          <span className="notice">{t.wizard.uploaded}</span>
          {d.content_type.startsWith("image/") ? <img src={d.url} alt={t.wizard.kinds[d.kind] ?? ""} className="thumb" /> : null}
          <a href={d.url} target="_blank" rel="noreferrer">{`${t.wizard.preview} ${t.wizard.kinds[d.kind] ?? ""}`}</a>
          <span className="muted small">{`${Math.ceil(d.size_bytes / 1024)} KB`}</span>
          <button type="button" className="danger" onClick={() => void remove(d.id)} disabled={busy}>
            {t.wizard.remove}
          </button>
        </div>
      ))}
      <div className="row">
        <label htmlFor={id} className="sr-only">{KIND_LABEL[kind]}</label>
        <input
          key={inputKey}
          id={id}
          type="file"
          accept="application/pdf,image/jpeg,image/png,image/webp"
          aria-invalid={Boolean(problem) || missing || undefined}
          aria-describedby={problem || missing ? `${id}-error` : undefined}
          onChange={(e) => setFile(e.target.files?.[0] ?? null)}
        />
        <button type="button" onClick={() => void upload()} disabled={!file || Boolean(problem) || busy}>
          {busy ? t.wizard.uploading : t.wizard.upload}
        </button>
      </div>
      {problem || missing ? (
        <p id={`${id}-error`} className="error small" role="alert">{problem ?? t.wizard.needLicence}</p>
      ) : null}
      {file && !problem ? (
        <div className="preview">
          {preview ? <img src={preview} alt={`${t.wizard.preview}：${file.name}`} /> : <p className="muted">{t.wizard.pdfPreview(file.name)}</p>}
        </div>
      ) : null}
      <Problem error={error} />
    </fieldset>
  );
}
