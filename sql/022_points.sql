-- Points (积分, issue 18; docs/points.md): lots that expire a year after they were earned, an
-- account per user whose balance is the sum of its lots' remaining points, and an append-only
-- journal in which every credit and debit names its source once (UNIQUE source_key).

-- One row per user; every change of a user's points locks it first (SELECT ... FOR UPDATE), so
-- caps, spending and expiry of one user are serialised whatever the number of processes.
CREATE TABLE points_accounts (
    user_id          uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    balance          bigint NOT NULL DEFAULT 0 CHECK (balance >= 0),
    earned_total     bigint NOT NULL DEFAULT 0 CHECK (earned_total >= 0),
    spent_total      bigint NOT NULL DEFAULT 0 CHECK (spent_total >= 0),
    expired_total    bigint NOT NULL DEFAULT 0 CHECK (expired_total >= 0),
    taken_back_total bigint NOT NULL DEFAULT 0 CHECK (taken_back_total >= 0),
    -- Daily check-in: the community's local day (Asia/Shanghai) of the last one and the run.
    last_check_in    date,
    streak_days      integer NOT NULL DEFAULT 0 CHECK (streak_days >= 0),
    updated_at       timestamptz NOT NULL,
    CHECK (balance = earned_total - spent_total - expired_total - taken_back_total)
);

-- The journal: one row per earning (also a capped one, with delta 0, so its source is used up),
-- spending, expiry of a lot, or take-back. Never updated, never deleted.
CREATE TABLE points_journal (
    id          uuid PRIMARY KEY,
    -- The order entries were written in: entries of one transaction share their time.
    n           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    user_id     uuid NOT NULL REFERENCES users (id),
    kind        text NOT NULL CHECK (kind IN ('earn', 'spend', 'expire', 'take_back')),
    rule        text NOT NULL CHECK (rule ~ '^[a-z_]{1,30}$'),
    delta       integer NOT NULL,
    -- What the rule would have given before the daily cap (earn), or what was owed (take_back).
    requested   integer NOT NULL CHECK (requested >= 0),
    source_key  text NOT NULL UNIQUE CHECK (char_length(source_key) BETWEEN 1 AND 200),
    note        text NOT NULL DEFAULT '' CHECK (char_length(note) <= 200),
    -- The local day the cap counted this earning against (earn only).
    local_day   date,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz,
    CHECK ((kind = 'earn') = (delta >= 0)),
    CHECK (kind <> 'earn' OR (local_day IS NOT NULL AND delta <= requested)),
    CHECK (kind <> 'take_back' OR -delta <= requested)
);
CREATE INDEX points_journal_user_idx ON points_journal (user_id, created_at DESC, n DESC);

-- Append-only by construction, not by convention: corrections are new entries.
CREATE FUNCTION points_journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'points_journal is append-only' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER points_journal_append_only BEFORE UPDATE OR DELETE ON points_journal
    FOR EACH ROW EXECUTE FUNCTION points_journal_append_only();

-- What each user earned under each capped rule on each local day; the CHECK is the cap itself,
-- so a bug in the service cannot exceed it either.
CREATE TABLE points_daily (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rule       text NOT NULL,
    local_day  date NOT NULL,
    earned     integer NOT NULL CHECK (earned >= 0),
    cap        integer NOT NULL CHECK (cap > 0),
    PRIMARY KEY (user_id, rule, local_day),
    CHECK (earned <= cap)
);

-- Each positive earning is a lot; spending and take-backs draw remaining points oldest first
-- (soonest expiry first), expiry retires what remains of a lot.
CREATE TABLE points_lots (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    entry_id    uuid NOT NULL UNIQUE REFERENCES points_journal (id),
    amount      integer NOT NULL CHECK (amount > 0),
    remaining   integer NOT NULL CHECK (remaining BETWEEN 0 AND amount),
    earned_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL CHECK (expires_at > earned_at),
    expired_at  timestamptz,
    CHECK (expired_at IS NULL OR remaining = 0)
);
CREATE INDEX points_lots_live_idx ON points_lots (user_id, expires_at, earned_at)
    WHERE remaining > 0;
CREATE INDEX points_lots_due_idx ON points_lots (expires_at) WHERE remaining > 0;

-- Which lots a debit (spend, expire, take_back) drew from, and how much from each.
CREATE TABLE points_draws (
    entry_id  uuid NOT NULL REFERENCES points_journal (id),
    lot_id    uuid NOT NULL REFERENCES points_lots (id),
    amount    integer NOT NULL CHECK (amount > 0),
    PRIMARY KEY (entry_id, lot_id)
);
CREATE INDEX points_draws_lot_idx ON points_draws (lot_id);

-- A week before points expire the resident is told once per local expiry day.
CREATE TABLE points_expiry_notices (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expiry_day  date NOT NULL,
    points      integer NOT NULL CHECK (points > 0),
    created_at  timestamptz NOT NULL,
    sent_at     timestamptz,
    PRIMARY KEY (user_id, expiry_day)
);
CREATE INDEX points_expiry_notices_unsent_idx ON points_expiry_notices (created_at)
    WHERE sent_at IS NULL;

-- Invitations: each user's code, and who signed up with whose code (once per invitee).
CREATE TABLE points_invitation_codes (
    user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Z2-9]{8}$'),
    created_at  timestamptz NOT NULL
);
CREATE TABLE points_invitations (
    invitee_id  uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    inviter_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    verified_at timestamptz,
    CHECK (inviter_id <> invitee_id)
);
CREATE INDEX points_invitations_inviter_idx ON points_invitations (inviter_id, created_at DESC);
CREATE INDEX points_invitations_pending_idx ON points_invitations (created_at)
    WHERE verified_at IS NULL;

-- The redemption catalogue (积分商城) and what residents redeemed.
CREATE TABLE points_products (
    id                  uuid PRIMARY KEY,
    kind                text NOT NULL CHECK (kind IN ('coupon', 'gift', 'privilege')),
    name                text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description         text NOT NULL DEFAULT '' CHECK (char_length(description) <= 1000),
    points_cost         integer NOT NULL CHECK (points_cost BETWEEN 1 AND 1000000),
    stock               integer CHECK (stock >= 0),
    pickup              text CHECK (pickup IN ('locker', 'merchant')),
    coupon_template_id  uuid,
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    created_by          uuid REFERENCES users (id),
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK ((kind = 'coupon') = (coupon_template_id IS NOT NULL)),
    CHECK ((kind = 'gift') = (pickup IS NOT NULL)),
    CHECK (kind <> 'gift' OR stock IS NOT NULL)
);
CREATE INDEX points_products_active_idx ON points_products (points_cost) WHERE status = 'active';

CREATE TABLE points_redemptions (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id   uuid NOT NULL REFERENCES points_products (id),
    kind         text NOT NULL,
    name         text NOT NULL,
    points       integer NOT NULL CHECK (points > 0),
    status       text NOT NULL CHECK (status IN ('awaiting_pickup', 'picked_up', 'issued', 'granted')),
    coupon_id    uuid,
    pickup       text CHECK (pickup IN ('locker', 'merchant')),
    pickup_code  text UNIQUE CHECK (pickup_code ~ '^[A-Z2-9]{10}$'),
    created_at   timestamptz NOT NULL,
    CHECK ((kind = 'gift') = (pickup_code IS NOT NULL))
);
CREATE INDEX points_redemptions_user_idx ON points_redemptions (user_id, created_at DESC);

-- Privileges a resident holds (e.g. priority in an activity); the activity side checks them.
CREATE TABLE points_entitlements (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redemption_id  uuid NOT NULL UNIQUE REFERENCES points_redemptions (id),
    product_id     uuid NOT NULL REFERENCES points_products (id),
    name           text NOT NULL,
    created_at     timestamptz NOT NULL,
    used_at        timestamptz
);
CREATE INDEX points_entitlements_user_idx ON points_entitlements (user_id) WHERE used_at IS NULL;

-- The publishing rule credits channel posts a grace period after they were archived, if
-- moderation has not deleted them by then: the scan reads recent posts by time.
CREATE INDEX channel_events_posts_by_time ON channel_events (created_at)
    WHERE type = 'chat.message' AND user_id IS NOT NULL;
-- The scan heals spending credits and take-backs a failed hook left: recent finished orders.
CREATE INDEX orders_finished_idx ON orders (updated_at) WHERE status IN ('completed', 'refunded');
CREATE INDEX group_buy_orders_finished_idx ON group_buy_orders (updated_at)
    WHERE status IN ('completed', 'refunded');
-- The activity rule reads recent draws' entries.
CREATE INDEX lottery_results_drawn_idx ON lottery_results (drawn_at);
