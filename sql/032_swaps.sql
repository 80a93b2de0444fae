-- Swaps (置换, issue 20 item 3): a resident offers one of their own listings for a neighbour's
-- listing that is open to swaps; on acceptance both listings are held, an agreed difference in
-- value is paid through the provider, both confirm the face-to-face hand-over, both rate.
-- docs/swaps.md has the state machine and the money.

-- Open to swaps, set by the listing's owner.
ALTER TABLE listings ADD COLUMN swap_ok boolean NOT NULL DEFAULT false;
-- A completed swap takes both listings off the market.
ALTER TABLE listings DROP CONSTRAINT listings_status_check;
ALTER TABLE listings ADD CONSTRAINT listings_status_check
    CHECK (status IN ('active', 'withdrawn', 'sold', 'rented', 'swapped'));

CREATE TABLE swaps (
    id                     uuid PRIMARY KEY,
    status                 text NOT NULL CHECK (status IN (
                               'offered', 'accepted', 'paid', 'completed', 'declined',
                               'withdrawn', 'expired', 'cancelled')),
    -- The listing asked for, and its owner (who accepts or declines).
    listing_id             uuid NOT NULL REFERENCES listings (id) ON DELETE RESTRICT,
    owner_id               uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    -- The proposer's own listing offered in exchange.
    offered_listing_id     uuid NOT NULL REFERENCES listings (id) ON DELETE RESTRICT,
    proposer_id            uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    -- An agreed difference in value (integer fen), paid by one side to the other.
    difference_fen         bigint NOT NULL DEFAULT 0 CHECK (difference_fen BETWEEN 0 AND 100000000),
    difference_payer       text CHECK (difference_payer IN ('proposer', 'owner')),
    -- Who pays the difference and who receives it (the payment's payer and payee).
    payer_id               uuid REFERENCES users (id) ON DELETE RESTRICT,
    payee_id               uuid REFERENCES users (id) ON DELETE RESTRICT,
    message                text NOT NULL DEFAULT '' CHECK (char_length(message) <= 500),
    commission_bps         integer NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    -- The captured payment of the difference (set by the capture hook).
    payment_id             uuid REFERENCES payments (id),
    proposer_confirmed_at  timestamptz,
    owner_confirmed_at     timestamptz,
    cancel_reason          text,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    accepted_at            timestamptz,
    paid_at                timestamptz,
    completed_at           timestamptz,
    ended_at               timestamptz,
    CHECK (listing_id <> offered_listing_id),
    CHECK (owner_id <> proposer_id),
    CHECK ((difference_fen = 0) = (difference_payer IS NULL)),
    CHECK ((difference_payer IS NULL) = (payer_id IS NULL) AND (payer_id IS NULL) = (payee_id IS NULL)),
    CHECK ((status = 'completed') = (completed_at IS NOT NULL))
);
CREATE INDEX swaps_owner_idx ON swaps (owner_id, created_at DESC, id DESC);
CREATE INDEX swaps_proposer_idx ON swaps (proposer_id, created_at DESC, id DESC);
CREATE INDEX swaps_payee_idx ON swaps (payee_id, completed_at) WHERE status = 'completed';
CREATE INDEX swaps_open_idx ON swaps (created_at) WHERE status IN ('offered', 'accepted', 'paid');
CREATE UNIQUE INDEX swaps_payment_idx ON swaps (payment_id) WHERE payment_id IS NOT NULL;
-- One pending offer per pair of listings: a double tap makes one offer.
CREATE UNIQUE INDEX swaps_one_offer_per_pair ON swaps (listing_id, offered_listing_id)
    WHERE status = 'offered';

-- The listings an accepted swap holds: one row per listing, so a listing is in at most one
-- accepted swap (the primary key), and an order on a held listing is refused (the trigger below).
CREATE TABLE swap_holds (
    listing_id  uuid PRIMARY KEY REFERENCES listings (id) ON DELETE RESTRICT,
    swap_id     uuid NOT NULL REFERENCES swaps (id) ON DELETE CASCADE
);
CREATE INDEX swap_holds_swap_idx ON swap_holds (swap_id);

-- An order and a swap on one listing serialise on the listing's row: the order's insert and the
-- swap's acceptance both lock it (FOR NO KEY UPDATE, which does not block foreign-key checks),
-- then each looks for the other. A held listing answers the order as a second open order would
-- (unique_violation, so the orders code says 409 listing_reserved).
CREATE FUNCTION orders_refuse_swap_held() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM listings WHERE id = NEW.listing_id FOR NO KEY UPDATE;
    IF EXISTS (SELECT 1 FROM swap_holds WHERE listing_id = NEW.listing_id) THEN
        RAISE EXCEPTION 'listing % is held by a swap', NEW.listing_id
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'swap_holds_pkey';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER orders_refuse_swap_held BEFORE INSERT ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_refuse_swap_held();

-- Each party rates the other once per completed swap; the ratee's user_reputation is updated in
-- the same transaction, as for orders.
CREATE TABLE swap_ratings (
    swap_id     uuid NOT NULL REFERENCES swaps (id) ON DELETE CASCADE,
    rater_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ratee_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    score       smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment     text NOT NULL DEFAULT '' CHECK (char_length(comment) <= 500),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (swap_id, rater_id),
    CHECK (rater_id <> ratee_id)
);

-- A completed swap's difference is paid out to its receiver by T+7 settlement, as a C2C sale's
-- price is (settlement_items for orders, settlement_group_buy_items for group-buy orders).
CREATE TABLE settlement_swap_items (
    settlement_id          uuid NOT NULL REFERENCES settlements (id),
    swap_id                uuid NOT NULL UNIQUE REFERENCES swaps (id),
    gross_fen              bigint NOT NULL,
    commission_fen         bigint NOT NULL,
    property_share_fen     bigint NOT NULL,
    withheld_fen           bigint NOT NULL,
    net_fen                bigint NOT NULL,
    merchant_discount_fen  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (settlement_id, swap_id)
);
