// 会员: the plan and its benefits, subscribing through the provider's sign page, the status, the
// renewal date and cancellation (docs/subscriptions.md).
import { useState, type ReactNode } from "react";
import { Link, useNavigate } from "react-router";

import { common, resident, subscriptions } from "../strings";
import { Loading, Page, useAction, useLoad } from "../ui/kit";
import { cancel, LIVE, mySubscriptions, newKey, plans, subscribe, type Subscription } from "./api";
import { SubsError } from "./SubsError";

const t = subscriptions.membership;

export default function MembershipPage(): ReactNode {
  const navigate = useNavigate();
  const [catalogue, plansError] = useLoad(plans, []);
  const [subs, subsError, reload] = useLoad(mySubscriptions, []);
  // One key per intent to subscribe: a retried tap starts one subscription.
  const [key] = useState(newKey);
  const [start, starting, startError] = useAction(async () => {
    const sub = await subscribe("member", key);
    await navigate(`/subscriptions/${sub.id}/sign`);
  });
  const [stop, stopping, stopError] = useAction(async (id: string) => {
    if (!window.confirm(t.cancelConfirm)) return;
    await cancel(id);
    reload();
  });
  if (plansError || subsError) {
    return (
      <Page title={t.title}>
        <SubsError error={plansError ?? subsError} />
      </Page>
    );
  }
  if (!catalogue || !subs) return <Loading />;
  const plan = catalogue.find((p) => p.kind === "membership");
  const mine = subs.filter((s) => s.kind === "membership");
  const live = mine.find((s) => LIVE.has(s.status));
  return (
    <Page title={t.title}>
      <section className="card" aria-labelledby="member-benefits">
        <h2 id="member-benefits">{t.intro}</h2>
        <ul className="benefits">
          {t.benefits.map((b) => (
            <li key={b}>{b}</li>
          ))}
        </ul>
        {plan ? <p className="big-price">{t.perMonth(common.yuan(plan.monthly_price_fen))}</p> : null}
      </section>
      {live ? (
        <Status sub={live} busy={stopping} onCancel={(id) => void stop(id)} />
      ) : (
        <button type="button" className="primary" disabled={starting || !plan} onClick={() => void start()}>
          {t.subscribe}
        </button>
      )}
      <SubsError error={startError ?? stopError} />
      {mine.some((s) => !LIVE.has(s.status)) ? (
        <>
          <h2>{t.history}</h2>
          <ul className="list">
            {mine
              .filter((s) => !LIVE.has(s.status))
              .map((s) => (
                <li key={s.id} className="card row">
                  <span className="grow">{s.plan_name}</span>
                  <span className="muted">{t.ended[s.status] ?? subscriptions.statuses[s.status]}</span>
                </li>
              ))}
          </ul>
        </>
      ) : null}
    </Page>
  );
}

function Status({ sub, busy, onCancel }: { sub: Subscription; busy: boolean; onCancel: (id: string) => void }): ReactNode {
  const when = (iso: string | null): string => resident.time(iso);
  return (
    <section className="card member-status" aria-labelledby="member-status" role="status">
      <h2 id="member-status">{t.status}</h2>
      {sub.status === "pending" ? (
        <>
          <p>{t.pending}</p>
          <Link className="button-link primary" to={`/subscriptions/${sub.id}/sign`}>
            {t.toSign}
          </Link>
        </>
      ) : (
        <>
          <p className="badge verified">{sub.status === "past_due" ? subscriptions.statuses.past_due : t.active}</p>
          <p>{t.until(when(sub.access_until))}</p>
          {sub.status === "past_due" ? (
            <p className="error">{t.pastDue(when(sub.access_until))}</p>
          ) : sub.cancel_at_period_end ? (
            <p className="muted">{t.ends(when(sub.current_period_end))}</p>
          ) : (
            <p className="muted">{t.renews(when(sub.current_period_end))}</p>
          )}
          {sub.cancel_at_period_end ? null : (
            <button type="button" className="secondary" disabled={busy} onClick={() => onCancel(sub.id)}>
              {t.cancel}
            </button>
          )}
        </>
      )}
    </section>
  );
}
