// An order's coupon discounts as rows of a <dl> (the order page, the cashier): each funder's part
// and what is paid for the price; nothing when the order took no coupon.
import { type ReactNode } from "react";

import { common, coupons } from "../strings";
import { type Order } from "./types";

const t = coupons.order;

export function DiscountLines({ order }: { order: Order }): ReactNode {
  if (!order.discount_fen) return null;
  const minus = coupons.picker.minus;
  return (
    <>
      {order.platform_discount_fen ? (
        <>
          <dt>{t.platformDiscount}</dt>
          <dd className="notice">{minus(order.platform_discount_fen)}</dd>
        </>
      ) : null}
      {order.merchant_discount_fen ? (
        <>
          <dt>{t.merchantDiscount}</dt>
          <dd className="notice">{minus(order.merchant_discount_fen)}</dd>
        </>
      ) : null}
      {!order.platform_discount_fen && !order.merchant_discount_fen ? (
        <>
          <dt>{t.discount}</dt>
          <dd className="notice">{minus(order.discount_fen)}</dd>
        </>
      ) : null}
      <dt>{t.paid}</dt>
      <dd>{common.yuan(order.pay_fen ?? order.price_fen - order.discount_fen)}</dd>
    </>
  );
}
