// The sandbox provider's agreement page (签约代扣): the subscriber signs once; the first charge
// and its webhook follow asynchronously, so the page waits until the subscription is active.
import { useState, type ReactNode } from "react";
import { Link, useParams } from "react-router";

import { http } from "../api/http";
import { usePoll } from "../resident/usePoll";
import { common, subscriptions } from "../strings";
import { Loading, Page, useAction, useLoad } from "../ui/kit";
import { subscription } from "./api";
import { SubsError } from "./SubsError";

const t = subscriptions.sign;

export default function SignPage(): ReactNode {
  const { id = "" } = useParams();
  const [sub, error, reload] = useLoad(() => subscription(id), [id]);
  const [signed, setSigned] = useState(false);
  usePoll(signed && sub?.status === "pending", reload);
  const [sign, busy, signError] = useAction(async () => {
    if (!sub?.agreement_id || !sub.agreement_secret) return;
    await http.post(`/sandbox/agreements/${encodeURIComponent(sub.agreement_id)}/sign`, {
      client_secret: sub.agreement_secret,
    });
    setSigned(true);
    reload();
  });
  if (error) {
    return (
      <Page title={t.title}>
        <SubsError error={error} />
      </Page>
    );
  }
  if (!sub) return <Loading />;
  const back = sub.kind === "membership" ? "/me/membership" : "/me/virtual-number";
  const done = sub.status === "active" || sub.status === "past_due";
  return (
    <Page title={t.title}>
      <div className="card">
        <dl className="facts">
          <dt>{t.plan}</dt>
          <dd>{sub.plan_name}</dd>
          <dt>{t.price}</dt>
          <dd>{sub.monthly_price_fen !== null ? common.yuan(sub.monthly_price_fen) : null}</dd>
        </dl>
        <p className="muted small">{t.explain}</p>
      </div>
      {done && (signed || sub.agreement_signed_at) ? (
        <div className="card cashier-result ok" role="status">
          <p className="result-title">{t.done}</p>
          <Link to={back} className="button-link primary">
            {t.back}
          </Link>
        </div>
      ) : signed || sub.agreement_signed_at ? (
        <p className="muted" role="status" aria-busy="true">
          {t.waiting}
        </p>
      ) : sub.agreement_secret ? (
        <button type="button" className="primary" disabled={busy} onClick={() => void sign()}>
          {t.agree}
        </button>
      ) : (
        <p className="muted">{t.already}</p>
      )}
      <SubsError error={signError} />
    </Page>
  );
}
