// Money out (提现, 收入明细, 发票): the bank account (shown masked; the owner changes it), the
// available balance settlement made (T+7) and withdrawals from it, the income per order, and
// invoices — the store's own fee invoices from the platform and its buyers' requests.
// API: lago_rest/routes/moneyout.py, invoices.py (docs/money.md). Amounts are integer fen.
import { useId, useState, type FormEvent, type ReactNode } from "react";

import { http, query } from "../api/http";
import { common, merchant as strings } from "../strings";
import { Loading, Money, Page, useAction, useLoad } from "../ui/kit";
import { localTime, yuanToFen } from "./api";
import { useMerchant } from "./context";
import { ListTable, Problem, ReasonDialog } from "./parts";

const t = strings.withdraw;

interface BankAccount {
  id: string;
  holder_name: string;
  bank_name: string;
  account_number: string;
  updated_at: string;
}

interface Balance {
  available_fen: number;
  unsettled_fen: number;
  in_transit_fen: number;
  withdrawn_fen: number;
  min_fen: number;
  max_fen: number;
  daily_max_fen: number;
  today_remaining_fen: number;
}

interface Withdrawal {
  id: string;
  amount_fen: number;
  status: "requested" | "paid" | "failed";
  account: string;
  created_at: string;
}

/** This month in China time, YYYY-MM. */
export function thisMonth(): string {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit" }).formatToParts(new Date());
  return `${parts.find((p) => p.type === "year")?.value ?? "1970"}-${parts.find((p) => p.type === "month")?.value ?? "01"}`;
}

function newKey(): string {
  return crypto.randomUUID();
}

export function WithdrawPage(): ReactNode {
  const { merchant, role } = useMerchant();
  const base = `/merchants/${merchant.id}`;
  const [account, accountError, reloadAccount] = useLoad(() => http.get<{ account: BankAccount | null }>(`${base}/bank-account`), [base]);
  const [balance, balanceError, reloadBalance] = useLoad(() => http.get<Balance>(`${base}/balance`), [base]);
  const [history, historyError, reloadHistory] = useLoad(() => http.get<Withdrawal[]>(`${base}/withdrawals`), [base]);
  const owner = role === "owner";
  const reloadAll = (): void => {
    reloadBalance();
    reloadHistory();
  };
  return (
    <Page title={t.title} actions={<button type="button" onClick={reloadAll}>{t.refresh}</button>}>
      <p className="muted">{t.intro}</p>
      <Problem error={balanceError} />
      {!balance ? (
        balanceError ? null : <Loading />
      ) : (
        <section className="kpis" aria-label={t.available}>
          <div className="kpi card"><span className="kpi-label">{t.available}</span><span className="kpi-value" data-testid="available">{common.yuan(balance.available_fen)}</span></div>
          <div className="kpi card"><span className="kpi-label">{t.unsettled}</span><span className="kpi-value">{common.yuan(balance.unsettled_fen)}</span></div>
          <div className="kpi card"><span className="kpi-label">{t.inTransit}</span><span className="kpi-value">{common.yuan(balance.in_transit_fen)}</span></div>
          <div className="kpi card"><span className="kpi-label">{t.withdrawn}</span><span className="kpi-value">{common.yuan(balance.withdrawn_fen)}</span></div>
        </section>
      )}
      {balance ? (
        <p className="muted small">
          {t.limits(common.yuan(balance.min_fen), common.yuan(balance.max_fen), common.yuan(balance.daily_max_fen), common.yuan(balance.today_remaining_fen))}
        </p>
      ) : null}
      <section className="card" aria-labelledby="bank-account-heading">
        <h2 id="bank-account-heading">{t.account}</h2>
        <Problem error={accountError} />
        {!account ? (
          accountError ? null : <Loading />
        ) : (
          <AccountPanel account={account.account} owner={owner} base={base} onSaved={reloadAccount} />
        )}
      </section>
      {owner && account?.account ? <WithdrawForm base={base} onDone={reloadAll} /> : null}
      {!owner ? <p className="muted">{t.ownerOnly}</p> : null}
      <section aria-labelledby="withdrawals-heading">
        <h2 id="withdrawals-heading">{t.history}</h2>
        <Problem error={historyError} />
        <ListTable rows={history} error={historyError} onRetry={reloadHistory} empty={t.empty} className="withdrawals-table" columns={[t.when, t.amountCol, t.to, t.state]}>
          {history?.map((w) => (
            <tr key={w.id}>
              <td><time dateTime={w.created_at}>{localTime(w.created_at)}</time></td>
              <td><Money fen={w.amount_fen} /></td>
              <td>{w.account}</td>
              <td><span className={`badge ${w.status}`}>{t.states[w.status] ?? w.status}</span></td>
            </tr>
          ))}
        </ListTable>
      </section>
    </Page>
  );
}

function AccountPanel({ account, owner, base, onSaved }: { account: BankAccount | null; owner: boolean; base: string; onSaved: () => void }): ReactNode {
  const [editing, setEditing] = useState(false);
  const [holder, setHolder] = useState("");
  const [bank, setBank] = useState("");
  const [number, setNumber] = useState("");
  const ids = { holder: useId(), bank: useId(), number: useId() };
  const [save, busy, error] = useAction(async () => {
    await http.put(`${base}/bank-account`, { holder_name: holder, bank_name: bank, account_number: number });
    setEditing(false);
    setNumber("");
    onSaved();
  });
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void save();
  };
  return (
    <>
      {account ? (
        <dl className="bank-account" data-testid="bank-account">
          <dt>{t.holder}</dt><dd>{account.holder_name}</dd>
          <dt>{t.bank}</dt><dd>{account.bank_name}</dd>
          <dt>{t.number}</dt><dd>{account.account_number}</dd>
        </dl>
      ) : (
        <p className="muted">{t.noAccount}</p>
      )}
      {owner && !editing ? (
        <button type="button" onClick={() => setEditing(true)}>{account ? t.changeAccount : t.saveAccount}</button>
      ) : null}
      {owner && editing ? (
        <form className="form" onSubmit={submit}>
          <div className="field"><label htmlFor={ids.holder}>{t.holder}</label><input id={ids.holder} required maxLength={60} value={holder} onChange={(e) => setHolder(e.target.value)} /></div>
          <div className="field"><label htmlFor={ids.bank}>{t.bank}</label><input id={ids.bank} required maxLength={60} value={bank} onChange={(e) => setBank(e.target.value)} /></div>
          <div className="field"><label htmlFor={ids.number}>{t.number}</label><input id={ids.number} required inputMode="numeric" autoComplete="off" maxLength={40} value={number} onChange={(e) => setNumber(e.target.value)} /></div>
          <Problem error={error} />
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>{t.saveAccount}</button>
            <button type="button" onClick={() => setEditing(false)}>{t.cancel}</button>
          </div>
        </form>
      ) : null}
    </>
  );
}

function WithdrawForm({ base, onDone }: { base: string; onDone: () => void }): ReactNode {
  const [amount, setAmount] = useState("");
  const [key, setKey] = useState(newKey);
  const [bad, setBad] = useState(false);
  const [done, setDone] = useState(false);
  const id = useId();
  const [withdraw, busy, error] = useAction(async (fen: number) => {
    // One key per intended withdrawal: a retry after a lost answer withdraws once.
    await http.postOnce(`${base}/withdrawals`, key, { amount_fen: fen });
    setKey(newKey());
    setAmount("");
    setDone(true);
    onDone();
  });
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const fen = yuanToFen(amount);
    setBad(fen === null);
    setDone(false);
    if (fen !== null) void withdraw(fen);
  };
  return (
    <form className="form card withdraw-form" onSubmit={submit} aria-label={t.submit}>
      <div className="field">
        <label htmlFor={id}>{t.amount}</label>
        <input id={id} inputMode="decimal" required value={amount} onChange={(e) => { setAmount(e.target.value); setKey(newKey()); }} />
      </div>
      {bad ? <p className="error" role="alert">{t.badAmount}</p> : null}
      <Problem error={error} />
      {done ? <p role="status">{t.requested}</p> : null}
      <button type="submit" className="primary" disabled={busy}>{t.submit}</button>
    </form>
  );
}

// --- income ------------------------------------------------------------------------------------

interface IncomeItem {
  order_id: string;
  paid_at: string;
  gross_fen: number;
  merchant_discount_fen: number;
  refunded_fen: number;
  commission_fen: number;
  property_share_fen: number;
  net_fen: number;
  state: "unsettled" | "available" | "withdrawn";
}

interface Income {
  items: IncomeItem[];
  totals: Record<string, number>;
}

export function IncomePage(): ReactNode {
  const i = strings.income;
  const { merchant } = useMerchant();
  const [month, setMonth] = useState(thisMonth);
  const id = useId();
  const valid = /^\d{4}-(0[1-9]|1[0-2])$/.test(month);
  const [data, error, reload] = useLoad(
    () => (valid ? http.get<Income>(`/merchants/${merchant.id}/income${query({ month })}`) : Promise.resolve(undefined)),
    [merchant.id, month],
  );
  return (
    <Page title={i.title}>
      <p className="muted">{i.intro}</p>
      <div className="field month-field">
        <label htmlFor={id}>{i.month}</label>
        <input id={id} type="month" value={month} max={thisMonth()} onChange={(e) => setMonth(e.target.value)} />
      </div>
      <Problem error={error} />
      {error ? <button type="button" onClick={reload}>{common.retry}</button> : null}
      {!data ? (
        error || !valid ? null : <Loading />
      ) : data.items.length === 0 ? (
        <p className="muted empty">{i.empty}</p>
      ) : (
        <table className="statements-table income-table">
          <caption className="sr-only">{`${month} ${i.title}`}</caption>
          <thead>
            <tr>
              {[i.order, i.paidAt, i.gross, i.discount, i.refunded, i.commission, i.propertyShare, i.net, i.state].map((c) => (
                <th key={c} scope="col">{c}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {data.items.map((r) => (
              <tr key={r.order_id}>
                <td>{r.order_id.slice(0, 8)}</td>
                <td><time dateTime={r.paid_at}>{localTime(r.paid_at)}</time></td>
                <td><Money fen={r.gross_fen} /></td>
                <td>{common.yuan(r.merchant_discount_fen)}</td>
                <td>{common.yuan(r.refunded_fen)}</td>
                <td>{common.yuan(r.commission_fen)}</td>
                <td>{common.yuan(r.property_share_fen)}</td>
                <td><Money fen={r.net_fen} /></td>
                <td>{i.states[r.state] ?? r.state}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" colSpan={2}>{i.totals}</th>
              <td><Money fen={data.totals.gross_fen} /></td>
              <td>{common.yuan(data.totals.merchant_discount_fen ?? 0)}</td>
              <td>{common.yuan(data.totals.refunded_fen ?? 0)}</td>
              <td>{common.yuan(data.totals.commission_fen ?? 0)}</td>
              <td>{common.yuan(data.totals.property_share_fen ?? 0)}</td>
              <td><Money fen={data.totals.net_fen} /></td>
              <td />
            </tr>
          </tfoot>
        </table>
      )}
    </Page>
  );
}

// --- invoices ----------------------------------------------------------------------------------

export interface Invoice {
  id: string;
  kind: "platform_fee" | "order";
  order_id: string | null;
  month: string | null;
  merchant_name: string;
  title: string;
  tax_id: string | null;
  amount_fen: number;
  status: "requested" | "issued" | "rejected";
  reject_reason: string | null;
  has_document: boolean;
  created_at: string;
}

export function invoiceUrl(id: string): string {
  return `/api/v1/invoices/${id}/document`;
}

export function InvoicesPage(): ReactNode {
  const v = strings.invoices;
  const { merchant } = useMerchant();
  const base = `/merchants/${merchant.id}`;
  const [buyers, buyersError, reloadBuyers] = useLoad(() => http.get<Invoice[]>(`${base}/invoices${query({ kind: "order" })}`), [base]);
  const [fees, feesError, reloadFees] = useLoad(() => http.get<Invoice[]>(`${base}/invoices${query({ kind: "platform_fee" })}`), [base]);
  return (
    <Page title={v.title}>
      <section aria-labelledby="buyer-invoices">
        <h2 id="buyer-invoices">{v.buyerList}</h2>
        <Problem error={buyersError} />
        <ListTable rows={buyers} error={buyersError} onRetry={reloadBuyers} empty={v.empty} className="invoices-table" columns={[v.created, v.order(""), v.invoiceTitle, v.amount, v.state, ""]}>
          {buyers?.map((inv) => <BuyerInvoiceRow key={inv.id} invoice={inv} onChanged={reloadBuyers} />)}
        </ListTable>
      </section>
      <FeeInvoiceForm base={base} onDone={reloadFees} />
      <section aria-labelledby="fee-invoices">
        <h2 id="fee-invoices">{v.feeList}</h2>
        <Problem error={feesError} />
        <ListTable rows={fees} error={feesError} onRetry={reloadFees} empty={v.empty} className="invoices-table" columns={[v.created, v.month, v.invoiceTitle, v.amount, v.state, ""]}>
          {fees?.map((inv) => (
            <tr key={inv.id}>
              <td><time dateTime={inv.created_at}>{localTime(inv.created_at)}</time></td>
              <td>{inv.month}</td>
              <td>{inv.title}</td>
              <td><Money fen={inv.amount_fen} /></td>
              <td>{v.states[inv.status]}{inv.reject_reason ? `：${inv.reject_reason}` : ""}</td>
              <td>{inv.has_document ? <a href={invoiceUrl(inv.id)} download>{v.download}</a> : null}</td>
            </tr>
          ))}
        </ListTable>
      </section>
    </Page>
  );
}

function BuyerInvoiceRow({ invoice, onChanged }: { invoice: Invoice; onChanged: () => void }): ReactNode {
  const v = strings.invoices;
  const [rejecting, setRejecting] = useState(false);
  const uploadId = useId();
  const [issue, busy, error] = useAction(async () => {
    await http.post(`/invoices/${invoice.id}/issue`);
    onChanged();
  });
  const [upload, uploading, uploadError] = useAction(async (file: File) => {
    await http.upload(`/invoices/${invoice.id}/document`, file, file.name);
    onChanged();
  });
  const label = v.order(invoice.order_id ?? "");
  return (
    <tr>
      <td><time dateTime={invoice.created_at}>{localTime(invoice.created_at)}</time></td>
      <td>{label}</td>
      <td>{invoice.title}{invoice.tax_id ? ` (${invoice.tax_id})` : ""}</td>
      <td><Money fen={invoice.amount_fen} /></td>
      <td>{v.states[invoice.status]}{invoice.reject_reason ? `：${invoice.reject_reason}` : ""}</td>
      <td className="actions">
        {invoice.status === "requested" ? (
          <>
            <button type="button" className="primary" disabled={busy} onClick={() => void issue()} aria-label={`${v.generate} ${label}`}>{v.generate}</button>
            <label className="button" htmlFor={uploadId}>{v.upload}</label>
            <input id={uploadId} className="sr-only" type="file" accept="application/pdf" disabled={uploading} onChange={(e) => { const f = e.target.files?.[0]; if (f) void upload(f); }} />
            <button type="button" onClick={() => setRejecting(true)}>{v.reject}</button>
          </>
        ) : invoice.has_document ? (
          <a href={invoiceUrl(invoice.id)} download>{v.download}</a>
        ) : null}
        <Problem error={error ?? uploadError} />
        {rejecting ? (
          <ReasonDialog
            heading={v.rejectHeading}
            summary={`${label} · ${invoice.title}`}
            hint={v.rejectHint}
            reasonLabel={v.rejectReason}
            requiredMessage={v.rejectRequired}
            maxLength={200}
            submitLabel={v.reject}
            onClose={() => setRejecting(false)}
            onSubmit={async (reason: string) => {
              await http.post(`/invoices/${invoice.id}/reject`, { reason });
              setRejecting(false);
              onChanged();
            }}
          />
        ) : null}
      </td>
    </tr>
  );
}

function FeeInvoiceForm({ base, onDone }: { base: string; onDone: () => void }): ReactNode {
  const v = strings.invoices;
  const [month, setMonth] = useState("");
  const [kind, setKind] = useState<"company" | "personal">("company");
  const [title, setTitle] = useState("");
  const [taxId, setTaxId] = useState("");
  const [email, setEmail] = useState("");
  const [done, setDone] = useState(false);
  const ids = { month: useId(), kind: useId(), title: useId(), tax: useId(), email: useId() };
  const [request, busy, error] = useAction(async () => {
    await http.post(`${base}/fee-invoices`, {
      month,
      title_kind: kind,
      title,
      tax_id: kind === "company" ? taxId : null,
      email: email || null,
    });
    setDone(true);
    onDone();
  });
  return (
    <form
      className="form card fee-invoice-form"
      aria-labelledby="fee-invoice-heading"
      onSubmit={(e) => {
        e.preventDefault();
        setDone(false);
        void request();
      }}
    >
      <h2 id="fee-invoice-heading">{v.feeTitle}</h2>
      <p className="muted">{v.feeIntro}</p>
      <div className="field"><label htmlFor={ids.month}>{v.month}</label><input id={ids.month} type="month" required value={month} max={thisMonth()} onChange={(e) => setMonth(e.target.value)} /></div>
      <div className="field">
        <label htmlFor={ids.kind}>{v.titleKind}</label>
        <select id={ids.kind} value={kind} onChange={(e) => setKind(e.target.value === "personal" ? "personal" : "company")}>
          <option value="company">{v.kinds.company}</option>
          <option value="personal">{v.kinds.personal}</option>
        </select>
      </div>
      <div className="field"><label htmlFor={ids.title}>{v.invoiceTitle}</label><input id={ids.title} required maxLength={100} value={title} onChange={(e) => setTitle(e.target.value)} /></div>
      {kind === "company" ? (
        <div className="field"><label htmlFor={ids.tax}>{v.taxId}</label><input id={ids.tax} required maxLength={18} value={taxId} onChange={(e) => setTaxId(e.target.value.toUpperCase())} /></div>
      ) : null}
      <div className="field"><label htmlFor={ids.email}>{v.email}</label><input id={ids.email} type="email" value={email} onChange={(e) => setEmail(e.target.value)} /></div>
      <Problem error={error} />
      {done ? <p role="status">{v.requested}</p> : null}
      <button type="submit" className="primary" disabled={busy}>{v.request}</button>
    </form>
  );
}
