-- Settlement (结算): T+7 payouts of completed orders, and the merchant dashboard's aggregates.
-- docs/money.md "## Settlement" describes the job and why it is safe to run twice.

-- One settlement per payee per run: what the ledger split at capture for the orders it covers.
-- The payout is requested after the rows commit (key settlement:<id>); a crash in between leaves
-- payout_id NULL and the next run requests it.
CREATE TABLE settlements (
    id                  uuid PRIMARY KEY,
    payee_kind          text NOT NULL CHECK (payee_kind IN ('user', 'merchant')),
    payee_id            uuid NOT NULL,
    -- Orders completed at or before this instant were eligible (the run's time minus seven days).
    cutoff              timestamptz NOT NULL,
    order_count         integer NOT NULL CHECK (order_count > 0),
    gross_fen           bigint NOT NULL CHECK (gross_fen >= 0),
    commission_fen      bigint NOT NULL CHECK (commission_fen >= 0),
    property_share_fen  bigint NOT NULL CHECK (property_share_fen >= 0),
    -- Deposit withheld from rentals (late fees, damages): owed to the payee too.
    withheld_fen        bigint NOT NULL CHECK (withheld_fen >= 0),
    net_fen             bigint NOT NULL CHECK (net_fen >= 0),
    payout_id           uuid REFERENCES payouts (id),
    created_at          timestamptz NOT NULL,
    CHECK (net_fen = gross_fen - commission_fen - property_share_fen + withheld_fen)
);
CREATE INDEX settlements_payee_idx ON settlements (payee_kind, payee_id, created_at);
CREATE INDEX settlements_unpaid_idx ON settlements (created_at) WHERE payout_id IS NULL;

-- Which orders a settlement covers: UNIQUE(order_id) settles each order once, whatever races.
CREATE TABLE settlement_items (
    settlement_id       uuid NOT NULL REFERENCES settlements (id),
    order_id            uuid NOT NULL UNIQUE REFERENCES orders (id),
    gross_fen           bigint NOT NULL,
    commission_fen      bigint NOT NULL,
    property_share_fen  bigint NOT NULL,
    withheld_fen        bigint NOT NULL,
    net_fen             bigint NOT NULL,
    PRIMARY KEY (settlement_id, order_id)
);
-- The job looks for completed orders not yet settled, by completion time.
CREATE INDEX orders_completed_idx ON orders (completed_at) WHERE status = 'completed';

-- The merchant dashboard, per merchant and business day (Asia/Shanghai): updated in the same
-- transaction as the order's move, so reading it never scans orders. Revenue is the price of
-- orders paid that day minus the price of orders refunded that day.
CREATE TABLE merchant_daily_stats (
    merchant_id   uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    day           date NOT NULL,
    orders        integer NOT NULL DEFAULT 0,
    revenue_fen   bigint NOT NULL DEFAULT 0,
    completed     integer NOT NULL DEFAULT 0,
    refunded      integer NOT NULL DEFAULT 0,
    PRIMARY KEY (merchant_id, day)
);

-- Running totals that are not per day: orders paid and not yet completed or refunded, and the
-- buyers' ratings of the merchant's orders.
CREATE TABLE merchant_stats (
    merchant_id     uuid PRIMARY KEY REFERENCES merchants (id) ON DELETE CASCADE,
    pending_orders  integer NOT NULL DEFAULT 0 CHECK (pending_orders >= 0),
    rating_count    integer NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    rating_sum      integer NOT NULL DEFAULT 0 CHECK (rating_sum >= 0)
);
