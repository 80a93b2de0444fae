// 平台优惠券 (platform coupons, issue 18; admins): the platform's templates, a form for a new one
// (including the new-user coupon granted at sign-up), granting to phones and ending.
// API: GET /coupon-templates?funded_by=platform and coupons/admin.tsx.
import { type ReactNode } from "react";

import { http, query } from "../api/http";
import { TemplatesScreen } from "../coupons/admin";
import { type CouponTemplate } from "../coupons/types";
import { coupons } from "../strings";
import { Page, useLoad } from "../ui/kit";

export function CouponsPage(): ReactNode {
  const [page, error, reload] = useLoad(() => http.get<{ items: CouponTemplate[] }>(`/coupon-templates${query({ funded_by: "platform" })}`), []);
  return (
    <Page title={coupons.admin.platformTitle}>
      <TemplatesScreen intro={coupons.admin.platformIntro} merchantId={null} templates={page?.items} error={error} reload={reload} showBudget={false} />
    </Page>
  );
}
