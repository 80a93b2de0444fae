-- Group-buy orders in T+7 settlement (docs/money.md "## Settlement"): a completed group-buy
-- order is paid out to its merchant like a completed listing order, seven days after completion.

-- When the merchant marked the order delivered: the T+7 clock starts here. Orders completed
-- before this migration take their last update, which was the completion.
ALTER TABLE group_buy_orders ADD COLUMN completed_at timestamptz;
UPDATE group_buy_orders SET completed_at = updated_at WHERE status = 'completed';
ALTER TABLE group_buy_orders ADD CONSTRAINT group_buy_orders_completed_at
    CHECK ((status = 'completed') = (completed_at IS NOT NULL));
CREATE INDEX group_buy_orders_completed_idx ON group_buy_orders (completed_at)
    WHERE status = 'completed';

-- Which group-buy orders a settlement covers, as settlement_items does for listing orders (a
-- table of its own rather than a second nullable key there: settlement_items' key is
-- (settlement_id, order_id)). UNIQUE(group_buy_order_id) settles each order once.
CREATE TABLE settlement_group_buy_items (
    settlement_id       uuid NOT NULL REFERENCES settlements (id),
    group_buy_order_id  uuid NOT NULL UNIQUE REFERENCES group_buy_orders (id),
    gross_fen           bigint NOT NULL,
    commission_fen      bigint NOT NULL,
    property_share_fen  bigint NOT NULL,
    withheld_fen        bigint NOT NULL,
    net_fen             bigint NOT NULL,
    PRIMARY KEY (settlement_id, group_buy_order_id)
);
