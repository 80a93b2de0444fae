// 领券中心: the coupons residents can claim (GET /coupon-templates?claimable=true), each with its
// value, threshold, scope, validity and what is left; claiming is POST /coupon-templates/{id}/claim.
// A lazily loaded route (ResidentApp.tsx): the first screen stays light.
import { useState, type ReactNode } from "react";
import { Link } from "react-router";

import { ApiError, http, query } from "../api/http";
import { CouponError, CouponFace, funderText, ruleText } from "../coupons/parts";
import { type CouponTemplate, type UserCoupon } from "../coupons/types";
import { useSession } from "../session";
import { coupons } from "../strings";
import { Empty, Loading, Page, useLoad } from "../ui/kit";

const t = coupons.centre;

export default function CouponCentrePage(): ReactNode {
  const { communities } = useSession();
  const communityId = communities.find((c) => c.status === "verified")?.id;
  const [page, error, reload] = useLoad(
    () => http.get<{ items: CouponTemplate[] }>(`/coupon-templates${query({ claimable: true, community_id: communityId })}`),
    [communityId],
  );
  const [notice, setNotice] = useState("");
  return (
    <Page title={t.title} actions={<Link to="/me/coupons">{t.toWallet}</Link>}>
      <p className="muted small">{t.intro}</p>
      <p className="notice live-notice" role="status">
        {notice}
      </p>
      <CouponError error={error} />
      {page === undefined && !error ? <Loading /> : null}
      {page && page.items.length === 0 ? <Empty>{t.empty}</Empty> : null}
      <ul className="list" aria-label={t.title}>
        {page?.items.map((template) => (
          <ClaimCard
            key={template.id}
            template={template}
            onClaimed={(name) => setNotice(t.justClaimed(name))}
            onStale={reload}
          />
        ))}
      </ul>
    </Page>
  );
}

function ClaimCard({ template, onClaimed, onStale }: { template: CouponTemplate; onClaimed: (name: string) => void; onStale: () => void }): ReactNode {
  const [mine, setMine] = useState(template.claimed_by_me ?? 0);
  const [issued, setIssued] = useState(template.issued_count);
  const [state, setState] = useState<"open" | "sold_out" | "limit" | "ended">("open");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const soldOut = state === "sold_out" || (template.total_count !== null && issued >= template.total_count);
  const atLimit = state === "limit" || mine >= template.per_user_limit;
  const ended = state === "ended";

  const claim = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await http.post<UserCoupon>(`/coupon-templates/${template.id}/claim`);
      setMine((n) => n + 1);
      setIssued((n) => n + 1);
      onClaimed(template.name);
    } catch (e) {
      // The three ends of a claim are states of the card, not errors to read.
      if (e instanceof ApiError && e.code === "coupon_sold_out") setState("sold_out");
      else if (e instanceof ApiError && e.code === "coupon_limit_reached") setState("limit");
      else if (e instanceof ApiError && (e.code === "coupon_ended" || e.code === "coupon_not_claimable")) {
        setState("ended");
        onStale();
      } else setError(e);
    } finally {
      setBusy(false);
    }
  };

  const headingId = `coupon-${template.id}`;
  const label = soldOut ? t.soldOut : atLimit ? (template.per_user_limit > 1 ? t.limitReached : t.claimed) : ended ? coupons.errors.coupon_ended : mine > 0 ? t.claimMore : t.claim;
  return (
    <li className={`card coupon-card${soldOut || ended ? " dim" : ""}`} aria-labelledby={headingId} data-template-id={template.id}>
      <CouponFace coupon={template} dim={soldOut || ended} />
      <div className="coupon-body">
        <h2 id={headingId}>{template.name}</h2>
        <span className="small">{ruleText(template)}</span>
        <span className="muted small">
          {funderText(template)} · {coupons.validDays(template.valid_days)}
        </span>
        <span className="muted small">
          {coupons.remaining(template.total_count, issued)} · {t.perUser(template.per_user_limit)}
        </span>
        <div className="coupon-actions">
          {mine > 0 ? <span className="badge verified">{t.claimedCount(mine)}</span> : null}
          <button
            type="button"
            className={soldOut || atLimit || ended ? "secondary" : "primary"}
            disabled={busy || soldOut || atLimit || ended}
            aria-label={`${label}：${template.name}`}
            onClick={() => void claim()}
          >
            {label}
          </button>
        </div>
        <CouponError error={error} />
      </div>
    </li>
  );
}
