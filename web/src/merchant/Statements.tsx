// Settlements and monthly statements (财务结算): each T+7 settlement of the month paid to the store,
// with its gross, commission, property share, withheld deposit and net, and the month's totals.
// API: GET /merchants/{id}/statements?month=YYYY-MM (the month in China time).
import { useId, useState, type ReactNode } from "react";

import { http, query } from "../api/http";
import { common, merchant as t } from "../strings";
import { Loading, Money, Page, useLoad } from "../ui/kit";
import { localDate, localTime, type Statement } from "./api";
import { useMerchant } from "./context";
import { Problem } from "./parts";

/** This month in China time, YYYY-MM: statements are cut by the Chinese calendar month. */
function thisMonth(): string {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit" }).formatToParts(new Date());
  const year = parts.find((p) => p.type === "year")?.value ?? "1970";
  const month = parts.find((p) => p.type === "month")?.value ?? "01";
  return `${year}-${month}`;
}

export function StatementsPage(): ReactNode {
  const { merchant } = useMerchant();
  const [month, setMonth] = useState(thisMonth);
  const id = useId();
  const valid = /^\d{4}-(0[1-9]|1[0-2])$/.test(month);
  const [data, error, reload] = useLoad(
    () => (valid ? http.get<Statement>(`/merchants/${merchant.id}/statements${query({ month })}`) : Promise.resolve(undefined)),
    [merchant.id, month],
  );
  // The coupon column only where the API reports the store's discounts (issue 18).
  const discounts = typeof data?.totals.merchant_discount_fen === "number";
  return (
    <Page title={t.statements.title} actions={<button type="button" onClick={() => window.print()}>{t.statements.print}</button>}>
      <p className="muted">{t.statements.intro}</p>
      <div className="field month-field">
        <label htmlFor={id}>{t.statements.month}</label>
        <input id={id} type="month" value={month} max={thisMonth()} onChange={(e) => setMonth(e.target.value)} />
      </div>
      <Problem error={error} />
      {error ? <button type="button" onClick={reload}>{common.retry}</button> : null}
      {!data ? (
        error || !valid ? null : <Loading />
      ) : (
        <>
          <section className="kpis" aria-label={t.statements.totals}>
            <div className="kpi card"><span className="kpi-label">{t.statements.settlementCount}</span><span className="kpi-value">{data.totals.settlement_count}</span></div>
            <div className="kpi card"><span className="kpi-label">{t.statements.orderCount}</span><span className="kpi-value">{data.totals.order_count}</span></div>
            <div className="kpi card"><span className="kpi-label">{t.statements.gross}</span><span className="kpi-value">{common.yuan(data.totals.gross_fen)}</span></div>
            {discounts ? <div className="kpi card"><span className="kpi-label">{t.statements.discount}</span><span className="kpi-value">{common.yuan(data.totals.merchant_discount_fen ?? 0)}</span></div> : null}
            <div className="kpi card"><span className="kpi-label">{t.statements.commission}</span><span className="kpi-value">{common.yuan(data.totals.commission_fen)}</span></div>
            <div className="kpi card"><span className="kpi-label">{t.statements.net}</span><span className="kpi-value">{common.yuan(data.totals.net_fen)}</span></div>
          </section>
          {data.settlements.length === 0 ? (
            <p className="muted empty">{t.statements.empty}</p>
          ) : (
            <table className="statements-table">
              <caption className="sr-only">{`${data.month} ${t.statements.title}`}</caption>
              <thead>
                <tr>
                  <th scope="col">{t.statements.created}</th>
                  <th scope="col">{t.statements.cutoff}</th>
                  <th scope="col">{t.statements.orderCount}</th>
                  <th scope="col">{t.statements.gross}</th>
                  {discounts ? <th scope="col">{t.statements.discount}</th> : null}
                  <th scope="col">{t.statements.commission}</th>
                  <th scope="col">{t.statements.propertyShare}</th>
                  <th scope="col">{t.statements.withheld}</th>
                  <th scope="col">{t.statements.net}</th>
                  <th scope="col">{t.statements.payout}</th>
                </tr>
              </thead>
              <tbody>
                {data.settlements.map((s) => (
                  <tr key={s.id}>
                    <td><time dateTime={s.created_at}>{localTime(s.created_at)}</time></td>
                    <td><time dateTime={s.cutoff}>{localDate(s.cutoff)}</time></td>
                    <td>{s.order_count}</td>
                    <td><Money fen={s.gross_fen} /></td>
                    {discounts ? <td>{common.yuan(s.merchant_discount_fen ?? 0)}</td> : null}
                    <td>{common.yuan(s.commission_fen)}</td>
                    <td>{common.yuan(s.property_share_fen)}</td>
                    <td>{common.yuan(s.withheld_fen)}</td>
                    <td><Money fen={s.net_fen} /></td>
                    <td>{s.payout_status ? t.statements.payouts[s.payout_status] : t.statements.payoutNone}</td>
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr>
                  <th scope="row" colSpan={2}>{t.statements.totals}</th>
                  <td>{data.totals.order_count}</td>
                  <td><Money fen={data.totals.gross_fen} /></td>
                  {discounts ? <td>{common.yuan(data.totals.merchant_discount_fen ?? 0)}</td> : null}
                  <td>{common.yuan(data.totals.commission_fen)}</td>
                  <td>{common.yuan(data.totals.property_share_fen)}</td>
                  <td>{common.yuan(data.totals.withheld_fen)}</td>
                  <td><Money fen={data.totals.net_fen} /></td>
                  <td />
                </tr>
              </tfoot>
            </table>
          )}
        </>
      )}
    </Page>
  );
}
