// 优惠券 (merchant coupons, issue 18): the store's templates with what was issued, used and given
// against the budget; a form for a new one (scope from the store's own listings), granting to
// phones and ending. API: GET /merchants/{id}/coupon-templates and coupons/admin.tsx.
import { type ReactNode } from "react";

import { http } from "../api/http";
import { TemplatesScreen } from "../coupons/admin";
import { type CouponTemplate } from "../coupons/types";
import { coupons } from "../strings";
import { Page, useLoad } from "../ui/kit";
import { useMerchant } from "./context";

export function CouponsPage(): ReactNode {
  const { merchant } = useMerchant();
  const [page, error, reload] = useLoad(
    () => http.get<{ items: CouponTemplate[] }>(`/merchants/${merchant.id}/coupon-templates`),
    [merchant.id],
  );
  return (
    <Page title={coupons.admin.merchantTitle}>
      <TemplatesScreen intro={coupons.admin.merchantIntro} merchantId={merchant.id} templates={page?.items} error={error} reload={reload} showBudget />
    </Page>
  );
}
