// 数据洞察 (merchant back office): hotness of the merchant's categories where it serves, the
// portrait of its buyers (k ≥ 10), the complaint risk of the store and its listings, and the
// week's suggestions. API: GET /merchants/{id}/insights/{hotness,portrait,risk,suggestions}.
import { useState, type ReactNode } from "react";

import { http } from "../api/http";
import { useMerchant } from "../merchant/context";
import { insights as t } from "../strings";
import { ErrorNote, Loading, Page, useLoad } from "../ui/kit";
import type { Hotness, Portrait, Risk, Suggestions } from "./api";
import { Buckets, HotnessTable, RiskList, SuggestionList } from "./parts";

function PortraitView({ merchantId }: { merchantId: string }): ReactNode {
  const [days, setDays] = useState(90);
  const [data, error] = useLoad(() => http.get<Portrait>(`/merchants/${merchantId}/insights/portrait?days=${days}`), [merchantId, days]);
  const p = t.portrait;
  return (
    <section className="card" aria-labelledby="portrait-title">
      <h2 id="portrait-title">{p.title}</h2>
      <label className="insight-days">
        {p.days}
        <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
          {p.dayOptions.map((n) => (
            <option key={n} value={n}>
              {p.daysLabel(n)}
            </option>
          ))}
        </select>
      </label>
      <p className="muted small">{p.rule}</p>
      <ErrorNote error={error} />
      {!data ? (
        error ? null : <Loading />
      ) : data.buyers === null ? (
        <p role="note">{p.tooFew}</p>
      ) : (
        <>
          <section className="kpis" aria-label={p.title}>
            <div className="kpi card">
              <span className="kpi-label">{p.buyers}</span>
              <span className="kpi-value">{data.buyers}</span>
            </div>
            <div className="kpi card">
              <span className="kpi-label">{p.repeatRate}</span>
              <span className="kpi-value">{data.repeat_rate_percent === null ? p.hidden : `${data.repeat_rate_percent} %`}</span>
            </div>
            <div className="kpi card">
              <span className="kpi-label">{p.newBuyers}</span>
              <span className="kpi-value">{data.new_buyers ?? p.hidden}</span>
            </div>
            <div className="kpi card">
              <span className="kpi-label">{p.returning}</span>
              <span className="kpi-value">{data.returning_buyers ?? p.hidden}</span>
            </div>
          </section>
          <div className="insight-grid">
            <Buckets title={p.byCommunity} rows={data.by_community} />
            <Buckets title={p.byArea} rows={data.by_area} />
            <Buckets title={p.byGender} rows={data.by_gender} labels={p.genders} />
            <Buckets title={p.byAge} rows={data.by_age} />
          </div>
        </>
      )}
    </section>
  );
}

export default function MerchantInsightsPage(): ReactNode {
  const { merchant } = useMerchant();
  const base = `/merchants/${merchant.id}/insights`;
  const [hot, hotError, reloadHot] = useLoad(() => http.get<Hotness[]>(`${base}/hotness`), [base]);
  const [risk, riskError] = useLoad(() => http.get<Risk[]>(`${base}/risk`), [base]);
  const [tips, tipsError] = useLoad(() => http.get<Suggestions>(`${base}/suggestions`), [base]);
  return (
    <Page title={t.merchantTitle} actions={<button type="button" onClick={reloadHot}>{t.refresh}</button>}>
      <section className="card" aria-labelledby="tips-title">
        <h2 id="tips-title">{t.suggestions.title}</h2>
        <ErrorNote error={tipsError} />
        <SuggestionList data={tips} />
      </section>
      <section className="card" aria-labelledby="hot-title">
        <h2 id="hot-title">{t.hotness.title}</h2>
        <ErrorNote error={hotError} />
        {hot ? <HotnessTable rows={hot} /> : hotError ? null : <Loading />}
      </section>
      <PortraitView merchantId={merchant.id} />
      <section className="card" aria-labelledby="risk-title">
        <h2 id="risk-title">{t.risk.title}</h2>
        <ErrorNote error={riskError} />
        {risk ? <RiskList rows={risk} /> : riskError ? null : <Loading />}
      </section>
    </Page>
  );
}
