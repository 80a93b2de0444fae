-- A group-buy order the merchant cannot deliver is refunded (POST /group-buy-orders/{id}/refund,
-- docs/groupbuys.md "Orders"): before completion only, so never after it was settled.
ALTER TABLE group_buy_orders DROP CONSTRAINT group_buy_orders_status_check;
ALTER TABLE group_buy_orders ADD CONSTRAINT group_buy_orders_status_check
    CHECK (status IN ('paid', 'confirmed', 'completed', 'refunded'));
ALTER TABLE group_buy_orders
    ADD COLUMN refunded_at timestamptz,
    ADD COLUMN refund_reason text CHECK (char_length(refund_reason) BETWEEN 1 AND 200);
ALTER TABLE group_buy_orders ADD CONSTRAINT group_buy_orders_refunded
    CHECK ((status = 'refunded') = (refunded_at IS NOT NULL AND refund_reason IS NOT NULL));
