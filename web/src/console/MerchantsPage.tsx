// Platform admins review merchant applications: company information, the uploaded licences and
// permits, the review history; approve, or reject with a reason the merchant sees.
import { useState, type ReactNode } from "react";

import { http, query } from "../api/http";
import { consoleText } from "../strings";
import { Empty, Loading, Page, useLoad } from "../ui/kit";
import { ErrorNote, ReasonDialog } from "./shared";

const t = consoleText.merchants;

interface Registration {
  id: string;
  name: string;
  status: string;
  legal_name: string | null;
  credit_code: string | null;
  legal_representative: string | null;
  contact_phone: string | null;
  address: string | null;
  business_scope: string | null;
  rejection_reason: string | null;
  submitted_at: string | null;
  decided_at: string | null;
}

interface Document {
  id: string;
  kind: string;
  content_type: string;
  size_bytes: number;
  url: string;
  created_at: string;
}

interface ReviewEntry {
  id: number;
  action: string;
  actor_name: string | null;
  reason: string | null;
  created_at: string;
}

const FILTERS = ["awaiting", "approved", "rejected", "draft"];

export function MerchantsPage(): ReactNode {
  const [filter, setFilter] = useState("awaiting");
  const [items, error, reload] = useLoad(
    () => http.get<Registration[]>(`/admin/merchants${query({ status: filter === "awaiting" ? undefined : filter, limit: 100 })}`),
    [filter],
  );
  const [openId, setOpenId] = useState<string | null>(null);
  const [notice, setNotice] = useState("");
  const open = items?.find((m) => m.id === openId) ?? null;
  return (
    <Page
      title={t.title}
      actions={
        <label className="console-picker">
          {t.filter}
          <select value={filter} onChange={(e) => setFilter(e.target.value)}>
            {FILTERS.map((f) => (
              <option key={f} value={f}>
                {t.statuses[f]}
              </option>
            ))}
          </select>
        </label>
      }
    >
      <p className="notice" role="status">
        {notice}
      </p>
      <ErrorNote error={error} />
      <div className="console-split">
        <section aria-labelledby="merchant-queue-title">
          <h2 id="merchant-queue-title">{t.statuses[filter]}</h2>
          {items === undefined ? (
            error ? null : <Loading />
          ) : items.length === 0 ? (
            <Empty>{t.none}</Empty>
          ) : (
            <ul className="list">
              {items.map((m) => (
                <li key={m.id} className={`card ${m.id === openId ? "console-selected" : ""}`}>
                  <div className="console-grow">
                    <strong>{m.name}</strong>
                    <div className="muted">
                      {m.legal_name ?? "—"} · {t.submitted} {consoleText.time(m.submitted_at)}
                    </div>
                  </div>
                  <span className={`badge ${m.status === "approved" ? "verified" : m.status === "rejected" ? "rejected" : "pending"}`}>
                    {t.statuses[m.status] ?? m.status}
                  </span>
                  <button type="button" className="secondary" aria-label={`${t.open}：${m.name}`} onClick={() => setOpenId(m.id)}>
                    {t.open}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>
        {open ? (
          <MerchantDetail
            key={open.id}
            merchant={open}
            onDecided={(text) => {
              setNotice(text);
              setOpenId(null);
              reload();
            }}
          />
        ) : null}
      </div>
    </Page>
  );
}

function MerchantDetail({ merchant, onDecided }: { merchant: Registration; onDecided: (text: string) => void }): ReactNode {
  const [documents, docError] = useLoad(() => http.get<Document[]>(`/merchants/${merchant.id}/documents`), [merchant.id]);
  const [history] = useLoad(() => http.get<ReviewEntry[]>(`/merchants/${merchant.id}/reviews`), [merchant.id]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [rejecting, setRejecting] = useState(false);
  const reviewable = merchant.status === "submitted" || merchant.status === "resubmitted";

  const approve = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await http.post(`/merchants/${merchant.id}/approve`);
      onDecided(t.approved(merchant.name));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const facts: Array<[string, string | null]> = [
    [t.legalName, merchant.legal_name],
    [t.creditCode, merchant.credit_code],
    [t.representative, merchant.legal_representative],
    [t.phone, merchant.contact_phone],
    [t.address, merchant.address],
    [t.scope, merchant.business_scope],
    [t.submitted, consoleText.time(merchant.submitted_at)],
  ];
  return (
    <section className="card" aria-labelledby="merchant-detail-title">
      <h2 id="merchant-detail-title">{merchant.name}</h2>
      <dl className="console-facts">
        {facts.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value ?? "—"}</dd>
          </div>
        ))}
      </dl>
      <h3>{t.documents}</h3>
      <ErrorNote error={docError} />
      {documents === undefined ? (
        docError ? null : <Loading />
      ) : documents.length === 0 ? (
        <Empty>{t.noDocuments}</Empty>
      ) : (
        <ul className="list">
          {documents.map((d) => {
            const kind = t.documentKinds[d.kind] ?? d.kind;
            return (
              <li key={d.id} className="console-document">
                {d.content_type.startsWith("image/") ? <img src={d.url} alt={kind} className="console-thumb" /> : null}
                <a href={d.url} target="_blank" rel="noreferrer">
                  {t.view(kind)}
                </a>
                <span className="muted">
                  {d.content_type} · {Math.ceil(d.size_bytes / 1024)} KB
                </span>
              </li>
            );
          })}
        </ul>
      )}
      {history && history.length > 0 ? (
        <>
          <h3>{t.history}</h3>
          <ol className="console-history">
            {history.map((h) => (
              <li key={h.id}>
                {consoleText.time(h.created_at)} {t.actions[h.action] ?? h.action}
                {h.actor_name ? ` · ${h.actor_name}` : ""}
                {h.reason ? ` · ${h.reason}` : ""}
              </li>
            ))}
          </ol>
        </>
      ) : null}
      <ErrorNote error={error} />
      {reviewable ? (
        <div className="row">
          <button type="button" className="primary" disabled={busy} onClick={() => void approve()}>
            {busy ? consoleText.busy : t.approve(merchant.name)}
          </button>
          <button type="button" className="danger" disabled={busy} onClick={() => setRejecting(true)}>
            {t.reject(merchant.name)}
          </button>
        </div>
      ) : null}
      {rejecting ? (
        <ReasonDialog
          title={t.reject(merchant.name)}
          reasonLabel={t.rejectReason}
          confirmLabel={t.confirmReject}
          onClose={() => setRejecting(false)}
          onConfirm={async (reason) => {
            await http.post(`/merchants/${merchant.id}/reject`, { reason });
            onDecided(t.rejected(merchant.name));
          }}
        />
      ) : null}
    </section>
  );
}
