// 我的优惠券: the resident's coupons by state (GET /me/coupons?status=available|used|expired); the
// tab is in the address, so the back button restores it. A lazily loaded route (ResidentApp.tsx).
import { type ReactNode } from "react";
import { Link, useSearchParams } from "react-router";

import { http, query } from "../api/http";
import { CouponError, CouponFace, funderText, ruleText } from "../coupons/parts";
import { type UserCoupon } from "../coupons/types";
import { coupons } from "../strings";
import { Empty, Loading, Page, useLoad } from "../ui/kit";

const t = coupons.wallet;
const TABS = ["available", "used", "expired"] as const;
type Tab = (typeof TABS)[number];

export default function MyCouponsPage(): ReactNode {
  const [params, setParams] = useSearchParams();
  const asked = params.get("status");
  const tab: Tab = TABS.find((s) => s === asked) ?? "available";
  // A coupon held by an unpaid order is still the resident's: it shows under 可使用, marked, and
  // returns there when the order is cancelled or expires.
  const [page, error] = useLoad(async () => {
    const wanted: UserCoupon["status"][] = tab === "available" ? ["available", "locked"] : [tab];
    const pages = await Promise.all(wanted.map((status) => http.get<{ items: UserCoupon[] }>(`/me/coupons${query({ status })}`)));
    return { items: pages.flatMap((p) => p.items) };
  }, [tab]);
  return (
    <Page title={t.title} actions={<Link to="/coupons">{coupons.centre.title}</Link>}>
      <div className="coupon-tabs" role="group" aria-label={t.tabsLabel}>
        {TABS.map((s) => (
          <button key={s} type="button" aria-pressed={tab === s} className={tab === s ? "primary" : "secondary"} onClick={() => setParams({ status: s })}>
            {t.tabs[s]}
          </button>
        ))}
      </div>
      <CouponError error={error} />
      {page === undefined && !error ? <Loading /> : null}
      {page && page.items.length === 0 ? (
        <Empty>
          {t.empty[tab]}
          {tab === "available" ? (
            <>
              {" "}
              <Link to="/coupons">{t.toCentre}</Link>
            </>
          ) : null}
        </Empty>
      ) : null}
      <ul className="list" aria-label={t.tabs[tab]}>
        {page?.items.map((c) => (
          <WalletCard key={c.id} coupon={c} />
        ))}
      </ul>
    </Page>
  );
}

function WalletCard({ coupon }: { coupon: UserCoupon }): ReactNode {
  const dim = coupon.status !== "available";
  const headingId = `my-coupon-${coupon.id}`;
  return (
    <li className={`card coupon-card${dim ? " dim" : ""}`} aria-labelledby={headingId} data-coupon-id={coupon.id}>
      <CouponFace coupon={coupon} dim={dim} />
      <div className="coupon-body">
        <h2 id={headingId}>{coupon.name}</h2>
        <span className="small">{ruleText(coupon)}</span>
        <span className="muted small">
          {funderText(coupon)} · {coupons.sources[coupon.source] ?? coupon.source}
        </span>
        <span className="muted small">
          {coupon.status === "used" && coupon.used_at ? coupons.usedAt(coupon.used_at) : coupons.expires(coupon.expires_at)}
        </span>
        <div className="coupon-actions">
          <span className={`badge ${coupon.status === "available" ? "verified" : coupon.status === "locked" ? "pending" : ""}`}>
            {coupons.statuses[coupon.status] ?? coupon.status}
          </span>
          {coupon.status === "locked" ? <span className="muted small">{t.locked}</span> : null}
          {/* A group-buy seat has no order page of its own. */}
          {coupon.order_id && coupon.holder_type !== "group_buy_seat" && (coupon.status === "used" || coupon.status === "locked") ? (
            <Link to={`/orders/${coupon.order_id}`}>{t.toOrder}</Link>
          ) : null}
        </div>
      </div>
    </li>
  );
}
