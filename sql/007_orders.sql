-- Orders for the three trade modes (C2C sale, consignment 寄卖, rental), ratings between the two
-- parties of a completed order and each user's reputation. docs/orders.md has the state machines;
-- the transition table lives in lago_core/orders/machine.py and every transition is an
-- UPDATE ... WHERE status = <expected>, so two concurrent attempts cannot both succeed.

CREATE TABLE orders (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    mode              text NOT NULL CHECK (mode IN ('sale', 'consignment', 'rental')),
    status            text NOT NULL DEFAULT 'created' CHECK (status IN (
                          'created', 'paid', 'confirmed', 'handed_over', 'delivered',
                          'picked_up', 'returned', 'completed', 'cancelled',
                          'refund_requested', 'refunded')),
    listing_id        uuid NOT NULL REFERENCES listings (id) ON DELETE RESTRICT,
    buyer_id          uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    -- The listing's seller (for a consignment: the owner of the item).
    seller_id         uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    -- Set when a merchant runs the order: its owner and staff act for the seller side.
    merchant_id       uuid REFERENCES merchants (id) ON DELETE RESTRICT,
    payee_kind        text NOT NULL CHECK (payee_kind IN ('user', 'merchant')),
    payee_id          uuid NOT NULL,
    fulfilment        text NOT NULL CHECK (fulfilment IN ('face_to_face', 'self_pickup', 'delivery')),
    title             text NOT NULL,
    category          text NOT NULL,
    -- Integer fen. price_fen is what the payee is paid for (the price, or rent per day × days);
    -- the deposit is held in escrow and released at the end of a rental.
    price_fen         bigint NOT NULL CHECK (price_fen > 0),
    deposit_fen       bigint NOT NULL DEFAULT 0 CHECK (deposit_fen >= 0),
    rent_per_day_fen  bigint CHECK (rent_per_day_fen > 0),
    days              integer CHECK (days BETWEEN 1 AND 365),
    commission_bps    integer NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    payment_id        uuid REFERENCES payments (id),
    cancel_reason     text,
    late_fee_fen      bigint CHECK (late_fee_fen >= 0),
    damage_fen        bigint CHECK (damage_fen >= 0),
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    paid_at           timestamptz,
    picked_up_at      timestamptz,
    due_at            timestamptz,
    returned_at       timestamptz,
    completed_at      timestamptz,
    cancelled_at      timestamptz,
    overdue_at        timestamptz,
    CONSTRAINT orders_rental_fields CHECK (
        (mode = 'rental') = (days IS NOT NULL AND rent_per_day_fen IS NOT NULL)
        AND (mode = 'rental' OR deposit_fen = 0)
    ),
    CONSTRAINT orders_withheld_within_deposit CHECK (
        COALESCE(late_fee_fen, 0) + COALESCE(damage_fen, 0) <= deposit_fen OR mode <> 'rental'
    )
);
-- One open order per listing: a second buyer is refused until the first order ends.
CREATE UNIQUE INDEX orders_one_open_per_listing ON orders (listing_id)
    WHERE status IN ('created', 'paid', 'confirmed', 'handed_over', 'delivered', 'picked_up',
                     'returned', 'refund_requested');
CREATE INDEX orders_buyer_idx ON orders (buyer_id, created_at DESC, id DESC);
CREATE INDEX orders_seller_idx ON orders (seller_id, created_at DESC, id DESC)
    WHERE merchant_id IS NULL;
CREATE INDEX orders_merchant_idx ON orders (merchant_id, status, created_at DESC, id DESC)
    WHERE merchant_id IS NOT NULL;
CREATE INDEX orders_unpaid_idx ON orders (created_at) WHERE status = 'created';
CREATE INDEX orders_due_idx ON orders (due_at) WHERE status = 'picked_up' AND overdue_at IS NULL;
CREATE UNIQUE INDEX orders_payment_idx ON orders (payment_id) WHERE payment_id IS NOT NULL;

-- Each party rates the other once per completed order.
CREATE TABLE order_ratings (
    order_id    uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    rater_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ratee_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    score       smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment     text NOT NULL DEFAULT '' CHECK (char_length(comment) <= 500),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (order_id, rater_id),
    CHECK (rater_id <> ratee_id)
);
CREATE INDEX order_ratings_ratee_idx ON order_ratings (ratee_id, created_at DESC);

-- A user's reputation, kept up to date in the rating's own transaction (no scan of ratings).
CREATE TABLE user_reputation (
    user_id       uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    rating_count  integer NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    rating_sum    integer NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
    updated_at    timestamptz NOT NULL
);
