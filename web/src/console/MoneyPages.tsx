// Money in the console: property companies' monthly share statements (their staff see their
// company's; admins choose any) and the admins' queue of merchants' fee-invoice requests.
// API: GET /property-companies/{id}/statements/{month}; GET /invoices; POST /invoices/{id}/issue|reject.
import { useId, useState, type ReactNode } from "react";

import { http, query } from "../api/http";
import { common, consoleText } from "../strings";
import { Loading, Money, Page, useAction, useLoad } from "../ui/kit";
import { ErrorNote, ReasonDialog, useRoles } from "./shared";

interface CommunityShare {
  community_id: string | null;
  community_name: string | null;
  order_count: number;
  share_fen: number;
}

interface Statement {
  month: string;
  order_count: number;
  share_fen: number;
  communities: CommunityShare[];
  payout: { amount_fen: number; status: string } | null;
}

function currentMonth(): string {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit" }).formatToParts(new Date());
  const year = Number(parts.find((p) => p.type === "year")?.value ?? "1970");
  const month = Number(parts.find((p) => p.type === "month")?.value ?? "1");
  return `${year}-${String(month).padStart(2, "0")}`;
}

export function PropertyStatementsPage(): ReactNode {
  const t = consoleText.propertyStatements;
  const { staffOf, admin } = useRoles();
  const own = [...new Set(staffOf.map((c) => c.property_company_id).filter((c): c is string => Boolean(c)))];
  const [companies] = useLoad(
    () => (admin ? http.get<{ id: string; name: string }[]>("/property-companies") : Promise.resolve(own.map((id) => ({ id, name: id.slice(0, 8) })))),
    [admin, own.join(",")],
  );
  const [company, setCompany] = useState("");
  const [month, setMonth] = useState(currentMonth);
  const ids = { company: useId(), month: useId() };
  const chosen = company || companies?.[0]?.id || "";
  const valid = /^\d{4}-(0[1-9]|1[0-2])$/.test(month);
  const [data, error, reload] = useLoad(
    () => (chosen && valid ? http.get<Statement>(`/property-companies/${chosen}/statements/${month}`) : Promise.resolve(undefined)),
    [chosen, month],
  );
  return (
    <Page title={t.title}>
      <p className="muted">{t.intro}</p>
      <div className="row">
        {companies && companies.length > 1 ? (
          <label htmlFor={ids.company}>
            {t.company}
            <select id={ids.company} value={chosen} onChange={(e) => setCompany(e.target.value)}>
              {companies.map((c) => (
                <option key={c.id} value={c.id}>{c.name}</option>
              ))}
            </select>
          </label>
        ) : null}
        <label htmlFor={ids.month}>
          {t.month}
          <input id={ids.month} type="month" value={month} onChange={(e) => setMonth(e.target.value)} />
        </label>
      </div>
      <ErrorNote error={error} />
      {error ? <button type="button" onClick={reload}>{common.retry}</button> : null}
      {!data ? (
        error || !valid || !chosen ? null : <Loading />
      ) : (
        <>
          <section className="card" aria-label={t.share}>
            <p>{t.share}：<Money fen={data.share_fen} /> · {t.orders}：{data.order_count}</p>
            <p>{t.payout}：{data.payout ? `${t.payouts[data.payout.status] ?? data.payout.status} ${common.yuan(data.payout.amount_fen)}` : t.notPaid}</p>
          </section>
          {data.communities.length === 0 ? (
            <p className="muted empty">{t.empty}</p>
          ) : (
            <table className="console-table">
              <caption className="sr-only">{`${data.month} ${t.title}`}</caption>
              <thead>
                <tr><th scope="col">{t.community}</th><th scope="col">{t.orders}</th><th scope="col">{t.share}</th></tr>
              </thead>
              <tbody>
                {data.communities.map((c) => (
                  <tr key={c.community_id ?? "none"}>
                    <td>{c.community_name ?? t.unknownCommunity}</td>
                    <td>{c.order_count}</td>
                    <td><Money fen={c.share_fen} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </Page>
  );
}

interface FeeInvoice {
  id: string;
  merchant_name: string;
  month: string | null;
  title: string;
  tax_id: string | null;
  amount_fen: number;
  status: "requested" | "issued" | "rejected";
  has_document: boolean;
}

export function FeeInvoicesPage(): ReactNode {
  const t = consoleText.feeInvoices;
  const [status, setStatus] = useState<"requested" | "issued" | "rejected">("requested");
  const [rows, error, reload] = useLoad(() => http.get<FeeInvoice[]>(`/invoices${query({ status })}`), [status]);
  const [rejecting, setRejecting] = useState<FeeInvoice | null>(null);
  const [issue, busy, issueError] = useAction(async (id: string) => {
    await http.post(`/invoices/${id}/issue`);
    reload();
  });
  return (
    <Page title={t.title}>
      <div className="filters" role="group" aria-label={t.title}>
        {(["requested", "issued", "rejected"] as const).map((s) => (
          <button key={s} type="button" className={s === status ? "chip-button active" : "chip-button"} aria-pressed={s === status} onClick={() => setStatus(s)}>
            {t.states[s]}
          </button>
        ))}
      </div>
      <ErrorNote error={error ?? issueError} />
      {!rows ? (
        error ? <button type="button" onClick={reload}>{common.retry}</button> : <Loading />
      ) : rows.length === 0 ? (
        <p className="muted empty">{t.empty}</p>
      ) : (
        <table className="console-table">
          <thead>
            <tr>
              <th scope="col">{t.merchant}</th><th scope="col">{t.month}</th><th scope="col">{t.invoiceTitle}</th>
              <th scope="col">{t.taxId}</th><th scope="col">{t.amount}</th><th scope="col"><span className="sr-only">{t.issue}</span></th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id}>
                <td>{r.merchant_name}</td>
                <td>{r.month}</td>
                <td>{r.title}</td>
                <td>{r.tax_id ?? "—"}</td>
                <td><Money fen={r.amount_fen} /></td>
                <td>
                  {r.status === "requested" ? (
                    <>
                      <button type="button" className="primary" disabled={busy} onClick={() => void issue(r.id)}>{t.issue}</button>
                      <button type="button" onClick={() => setRejecting(r)}>{t.reject}</button>
                    </>
                  ) : r.has_document ? (
                    <a href={`/api/v1/invoices/${r.id}/document`} download>{t.download}</a>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {rejecting ? (
        <ReasonDialog
          title={`${t.reject}：${rejecting.merchant_name} ${rejecting.month ?? ""}`}
          reasonLabel={t.reasonLabel}
          confirmLabel={t.reject}
          onConfirm={async (reason) => {
            await http.post(`/invoices/${rejecting.id}/reject`, { reason });
            reload();
          }}
          onClose={() => setRejecting(null)}
        />
      ) : null}
    </Page>
  );
}
