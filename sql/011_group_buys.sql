-- Group buys (拼团): campaigns offered in communities, groups formed in a community channel, seats
-- reserved by the channel actor and confirmed by payment, orders for the merchant on success.
--
-- The channel actor decides who gets a seat; these constraints are the final guard, so that no
-- bug, race or failover can seat more members than a group allows:
--   * a seat row carries its group's max_members, checked against the group by a foreign key;
--   * seat_no is between 1 and max_members;
--   * (group_id, seat_no) is unique among active (reserved or paid) seats.
-- Together: a group never has more than max_members active seats.

CREATE TABLE group_buy_campaigns (
    id                 uuid PRIMARY KEY,
    merchant_id        uuid NOT NULL REFERENCES merchants (id) ON DELETE RESTRICT,
    -- 'merchant': created by the merchant's owner or staff; 'platform': by a platform admin.
    organiser          text NOT NULL CHECK (organiser IN ('merchant', 'platform')),
    created_by         uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    title              text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 100),
    description        text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    -- What is sold: one of the merchant's listings or one of its catalogue items (services).
    listing_id         uuid REFERENCES listings (id) ON DELETE RESTRICT,
    item_id            uuid REFERENCES merchant_items (id) ON DELETE RESTRICT,
    group_price_fen    bigint NOT NULL CHECK (group_price_fen > 0),
    original_price_fen bigint NOT NULL,
    min_members        integer NOT NULL CHECK (min_members >= 2),
    max_members        integer NOT NULL,
    valid_hours        integer NOT NULL DEFAULT 24 CHECK (valid_hours BETWEEN 1 AND 168),
    per_user_limit     integer NOT NULL DEFAULT 1 CHECK (per_user_limit BETWEEN 1 AND 10),
    -- Seats across every group of the campaign; NULL: unlimited.
    stock              integer CHECK (stock > 0),
    seats_taken        integer NOT NULL DEFAULT 0 CHECK (seats_taken >= 0),
    payment_window_s   integer NOT NULL CHECK (payment_window_s BETWEEN 60 AND 86400),
    -- At expiry, a group with at least one paid member but short of the minimum succeeds anyway.
    auto_fill          boolean NOT NULL DEFAULT false,
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),
    ends_at            timestamptz,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    CHECK ((listing_id IS NULL) <> (item_id IS NULL)),
    CHECK (group_price_fen < original_price_fen),
    CHECK (max_members BETWEEN min_members AND 100),
    CHECK (stock IS NULL OR seats_taken <= stock)
);
CREATE INDEX group_buy_campaigns_merchant_idx ON group_buy_campaigns (merchant_id, created_at DESC);

CREATE TABLE group_buy_campaign_communities (
    campaign_id   uuid NOT NULL REFERENCES group_buy_campaigns (id) ON DELETE CASCADE,
    community_id  uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    PRIMARY KEY (campaign_id, community_id)
);
CREATE INDEX group_buy_campaign_communities_idx
    ON group_buy_campaign_communities (community_id, campaign_id);

CREATE TABLE group_buys (
    id            uuid PRIMARY KEY,
    campaign_id   uuid NOT NULL REFERENCES group_buy_campaigns (id) ON DELETE RESTRICT,
    community_id  uuid NOT NULL REFERENCES communities (id) ON DELETE RESTRICT,
    leader_id     uuid REFERENCES users (id) ON DELETE RESTRICT,
    min_members   integer NOT NULL,
    max_members   integer NOT NULL CHECK (max_members BETWEEN min_members AND 100),
    -- open: joinable, short of the minimum; succeeded: reached it, joinable until full or expiry;
    -- failed: expired short of it (paid members refunded); cancelled: the lone leader left;
    -- closed: expired after succeeding.
    status        text NOT NULL DEFAULT 'open'
                  CHECK (status IN ('open', 'succeeded', 'failed', 'cancelled', 'closed')),
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    succeeded_at  timestamptz,
    ended_at      timestamptz,
    UNIQUE (id, max_members)
);
CREATE INDEX group_buys_community_idx ON group_buys (community_id, created_at DESC, id DESC);
CREATE INDEX group_buys_due_idx ON group_buys (expires_at) WHERE status IN ('open', 'succeeded');
CREATE INDEX group_buys_campaign_idx ON group_buys (campaign_id);

CREATE TABLE group_buy_seats (
    id               uuid PRIMARY KEY,
    group_id         uuid NOT NULL,
    max_members      integer NOT NULL,
    campaign_id      uuid NOT NULL REFERENCES group_buy_campaigns (id) ON DELETE RESTRICT,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    seat_no          integer NOT NULL,
    -- reserved: waiting for payment until reserved_until; paid; released: unpaid and let go
    -- (window ended, member left, group ended); refunded: paid, then the group failed or was
    -- cancelled or the member left before success — the payment is refunded.
    status           text NOT NULL DEFAULT 'reserved'
                     CHECK (status IN ('reserved', 'paid', 'released', 'refunded')),
    reserved_until   timestamptz NOT NULL,
    payment_id       uuid REFERENCES payments (id),
    joined_at        timestamptz NOT NULL,
    paid_at          timestamptz,
    ended_at         timestamptz,
    FOREIGN KEY (group_id, max_members) REFERENCES group_buys (id, max_members) ON DELETE CASCADE,
    CHECK (seat_no BETWEEN 1 AND max_members),
    CHECK ((status = 'paid') <= (payment_id IS NOT NULL))
);
CREATE UNIQUE INDEX group_buy_seats_active_no
    ON group_buy_seats (group_id, seat_no) WHERE status IN ('reserved', 'paid');
CREATE UNIQUE INDEX group_buy_seats_active_user
    ON group_buy_seats (group_id, user_id) WHERE status IN ('reserved', 'paid');
CREATE INDEX group_buy_seats_user_idx ON group_buy_seats (campaign_id, user_id)
    WHERE status IN ('reserved', 'paid');
CREATE INDEX group_buy_seats_due_idx ON group_buy_seats (reserved_until) WHERE status = 'reserved';

-- Every payment created for a seat. A seat is paid by one of them; a capture of any other (a
-- second tab, a payment after the seat or group ended) is refunded in full.
CREATE TABLE group_buy_payments (
    payment_id     uuid PRIMARY KEY REFERENCES payments (id),
    seat_id        uuid NOT NULL REFERENCES group_buy_seats (id),
    created_at     timestamptz NOT NULL,
    -- Set, in the capture's transaction, when this payment must be refunded; refund_requested_at
    -- once the refund is recorded (a crash in between is healed by the sweep job).
    refund_reason  text,
    refund_owed_at timestamptz,
    refund_requested_at timestamptz
);
CREATE INDEX group_buy_payments_seat_idx ON group_buy_payments (seat_id);
CREATE INDEX group_buy_payments_owed_idx ON group_buy_payments (refund_owed_at)
    WHERE refund_owed_at IS NOT NULL AND refund_requested_at IS NULL;

-- What the merchant fulfils: one order per paid seat of a successful group.
CREATE TABLE group_buy_orders (
    id            uuid PRIMARY KEY,
    seat_id       uuid NOT NULL UNIQUE REFERENCES group_buy_seats (id),
    group_id      uuid NOT NULL REFERENCES group_buys (id),
    campaign_id   uuid NOT NULL REFERENCES group_buy_campaigns (id),
    merchant_id   uuid NOT NULL REFERENCES merchants (id),
    buyer_id      uuid NOT NULL REFERENCES users (id),
    payment_id    uuid NOT NULL UNIQUE REFERENCES payments (id),
    price_fen     bigint NOT NULL CHECK (price_fen > 0),
    status        text NOT NULL DEFAULT 'paid' CHECK (status IN ('paid', 'confirmed', 'completed')),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX group_buy_orders_merchant_idx
    ON group_buy_orders (merchant_id, created_at DESC, id DESC);
