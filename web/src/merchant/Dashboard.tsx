// The dashboard (数据看板): today's and this month's orders and revenue, pending orders, the
// rating, the 30-day trend and this month's top 10. API: GET /merchants/{id}/dashboard.
import { type ReactNode } from "react";
import { Link } from "react-router";

import { http } from "../api/http";
import { DashboardSuggestions } from "../insights/DashboardSuggestions";
import { common, merchant as t } from "../strings";
import { Loading, Page, useLoad } from "../ui/kit";
import type { Dashboard } from "./api";
import { TopChart, TrendChart } from "./charts";
import { useMerchant } from "./context";
import { Problem } from "./parts";

function Kpi({ label, children, to }: { label: string; children: ReactNode; to?: string }): ReactNode {
  return (
    <div className="kpi card">
      <span className="kpi-label">{label}</span>
      <span className="kpi-value">{to ? <Link to={to}>{children}</Link> : children}</span>
    </div>
  );
}

export function DashboardPage(): ReactNode {
  const { merchant } = useMerchant();
  const [data, error, reload] = useLoad(() => http.get<Dashboard>(`/merchants/${merchant.id}/dashboard`), [merchant.id]);
  return (
    <Page title={t.dashboard.title} actions={<button type="button" onClick={reload}>{t.dashboard.refresh}</button>}>
      <Problem error={error} />
      {!data ? (
        error ? null : <Loading />
      ) : (
        <>
          <section className="kpis" aria-label={t.dashboard.title}>
            <Kpi label={t.dashboard.todayOrders}>{data.today.orders}</Kpi>
            <Kpi label={t.dashboard.todayRevenue}>{common.yuan(data.today.revenue_fen)}</Kpi>
            <Kpi label={t.dashboard.monthOrders}>{data.month.orders}</Kpi>
            <Kpi label={t.dashboard.monthRevenue}>{common.yuan(data.month.revenue_fen)}</Kpi>
            {typeof data.month.discount_fen === "number" ? <Kpi label={t.dashboard.monthDiscount}>{common.yuan(data.month.discount_fen)}</Kpi> : null}
            <Kpi label={t.dashboard.pending} to="/merchant/orders">{data.pending_orders}</Kpi>
            <Kpi label={t.dashboard.rating}>
              {data.rating_average === null ? (
                t.dashboard.ratingNone
              ) : (
                <>
                  {data.rating_average.toFixed(1)} <span className="muted small">{t.dashboard.ratingCount(data.rating_count)}</span>
                </>
              )}
            </Kpi>
          </section>
          <DashboardSuggestions merchantId={merchant.id} />
          <section className="card">
            <h2>{t.dashboard.trend}</h2>
            <TrendChart days={data.trend} />
          </section>
          <section className="card">
            <h2>{t.dashboard.top}</h2>
            {data.top_services.length === 0 ? <p className="muted">{t.dashboard.topEmpty}</p> : <TopChart services={data.top_services} />}
          </section>
        </>
      )}
    </Page>
  );
}
