-- What each merchant sold most this month, kept up to date by the order moves (like
-- merchant_daily_stats), so the dashboard's "top services" never scans the orders.
CREATE TABLE merchant_listing_month_stats (
    merchant_id  uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    month        date NOT NULL CHECK (extract(day FROM month) = 1),
    listing_id   uuid NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    orders       integer NOT NULL DEFAULT 0,
    revenue_fen  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (merchant_id, month, listing_id)
);
CREATE INDEX merchant_listing_month_top ON merchant_listing_month_stats (merchant_id, month, revenue_fen DESC);
