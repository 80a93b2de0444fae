// 虚拟号: a seller's plan (¥9.9: 30 buyers a month; ¥19.9: unlimited), subscribing and changing it,
// and this month's use (docs/subscriptions.md).
import { useState, type ReactNode } from "react";
import { Link, useNavigate } from "react-router";

import { http } from "../api/http";
import { common, resident, subscriptions } from "../strings";
import { Loading, Page, useAction, useLoad } from "../ui/kit";
import { cancel, change, LIVE, mySubscriptions, newKey, plans, subscribe, type Plan, type Usage } from "./api";
import { SubsError } from "./SubsError";

const t = subscriptions.virtualNumber;

export default function VirtualNumberPage(): ReactNode {
  const navigate = useNavigate();
  const [catalogue, plansError] = useLoad(plans, []);
  const [subs, subsError, reload] = useLoad(mySubscriptions, []);
  const [usage, usageError, reloadUsage] = useLoad(() => http.get<Usage>("/me/virtual-number"), []);
  const [key, setKey] = useState(newKey);
  const [start, starting, startError] = useAction(async (plan: Plan) => {
    const sub = await subscribe(plan.code, key);
    await navigate(`/subscriptions/${sub.id}/sign`);
  });
  const [switchTo, switching, switchError] = useAction(async (id: string, plan: Plan) => {
    await change(id, plan.code, key);
    setKey(newKey());
    reload();
    reloadUsage();
  });
  const [stop, stopping, stopError] = useAction(async (id: string) => {
    if (!window.confirm(subscriptions.membership.cancelConfirm)) return;
    await cancel(id);
    reload();
  });
  const failed = plansError ?? subsError ?? usageError;
  if (failed) {
    return (
      <Page title={t.title}>
        <SubsError error={failed} />
      </Page>
    );
  }
  if (!catalogue || !subs || !usage) return <Loading />;
  const offered = catalogue.filter((p) => p.kind === "virtual_number");
  const live = subs.find((s) => s.kind === "virtual_number" && LIVE.has(s.status));
  const nameOf = (code: string | null): string => offered.find((p) => p.code === code)?.name ?? code ?? "";
  return (
    <Page title={t.title}>
      <p className="muted">{t.intro}</p>
      {live ? (
        <section className="card" aria-labelledby="vn-current" role="status">
          <h2 id="vn-current">{t.current}</h2>
          <p>
            <strong>{live.plan_name}</strong> · {subscriptions.statuses[live.status]}
          </p>
          {live.first_period_granted_by ? <p className="muted">{t.granted}</p> : null}
          {live.status === "pending" ? (
            <Link className="button-link primary" to={`/subscriptions/${live.id}/sign`}>
              {subscriptions.membership.toSign}
            </Link>
          ) : (
            <p className="muted">{subscriptions.membership.until(resident.time(live.access_until))}</p>
          )}
          {live.next_plan_code ? <p className="muted">{t.downgradeScheduled(nameOf(live.next_plan_code))}</p> : null}
          {live.status === "active" && !live.cancel_at_period_end ? (
            <button type="button" className="secondary" disabled={stopping} onClick={() => void stop(live.id)}>
              {subscriptions.membership.cancel}
            </button>
          ) : null}
        </section>
      ) : null}
      <h2>{t.plansTitle}</h2>
      <ul className="list">
        {offered.map((plan) => (
          <li key={plan.code} className="card row">
            <span className="grow">
              <strong>{plan.name}</strong>
              <br />
              <span className="muted small">{t.buyers(plan.grants.vn_buyers_per_month ?? null)}</span>
            </span>
            <span className="money">{subscriptions.membership.perMonth(common.yuan(plan.monthly_price_fen))}</span>
            {!live ? (
              <button type="button" className="primary" disabled={starting} onClick={() => void start(plan)}>
                {t.subscribe(plan.name)}
              </button>
            ) : live.status === "active" && live.plan_code !== plan.code ? (
              <button type="button" className="secondary" disabled={switching} onClick={() => void switchTo(live.id, plan)}>
                {t.change(plan.name)}
              </button>
            ) : null}
          </li>
        ))}
      </ul>
      {live?.status === "active" ? <p className="muted small">{t.upgradeNote}</p> : null}
      <SubsError error={startError ?? switchError ?? stopError} />
      <section className="card" aria-labelledby="vn-usage">
        <h2 id="vn-usage">{t.usage}</h2>
        <p>{t.usageBuyers(usage.buyers, usage.plan_code ? usage.buyer_limit : 0)}</p>
        <p>{t.usageCalls(usage.calls, usage.call_seconds)}</p>
        <p className="muted">{t.openBindings(usage.open_bindings)}</p>
      </section>
    </Page>
  );
}
