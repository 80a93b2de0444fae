-- Live streams in community channels and auditable lottery draws (docs/live.md, docs/lottery.md).

-- Residents that a community's property staff (or an admin) allowed to go live there. Staff,
-- admins and approved merchants serving the community need no grant.
CREATE TABLE live_grants (
    community_id  uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    granted_by    uuid NOT NULL REFERENCES users (id),
    granted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, user_id)
);

-- Scheduled announcements (活动预告) of a stream, shown in the channel before it starts.
CREATE TABLE live_announcements (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    community_id  uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    host_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title         text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 100),
    description   text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    starts_at     timestamptz NOT NULL,
    cancelled_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX live_announcements_upcoming ON live_announcements (community_id, starts_at)
    WHERE cancelled_at IS NULL;

-- A draw is written when it opens (with its secret seed, so a new owner of the channel after a
-- failover can finish it) and its result once, in lottery_results: the primary key there is what
-- makes a draw happen exactly once, whoever triggers it and however often.
CREATE TABLE lottery_draws (
    id            uuid PRIMARY KEY,
    community_id  uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    organiser_id  uuid NOT NULL REFERENCES users (id),
    live_session  text,
    prize         text NOT NULL CHECK (char_length(prize) BETWEEN 1 AND 200),
    winner_count  integer NOT NULL CHECK (winner_count BETWEEN 1 AND 1000),
    eligibility   text NOT NULL CHECK (eligibility IN ('viewers', 'keyword', 'members')),
    keyword       text CHECK (char_length(keyword) BETWEEN 1 AND 50),
    commitment    text NOT NULL CHECK (commitment ~ '^[0-9a-f]{64}$'),
    -- Secret until the draw has a result; the API shows it only then.
    seed          text NOT NULL CHECK (seed ~ '^[0-9a-f]{64}$'),
    opened_at     timestamptz NOT NULL,
    draw_at       timestamptz NOT NULL,
    CHECK ((eligibility = 'keyword') = (keyword IS NOT NULL)),
    CHECK (draw_at >= opened_at)
);
CREATE INDEX lottery_draws_community ON lottery_draws (community_id, opened_at DESC);

CREATE TABLE lottery_results (
    draw_id       uuid PRIMARY KEY REFERENCES lottery_draws (id) ON DELETE CASCADE,
    entries       jsonb NOT NULL,
    entries_hash  text NOT NULL CHECK (entries_hash ~ '^[0-9a-f]{64}$'),
    winners       jsonb NOT NULL,
    drawn_at      timestamptz NOT NULL
);
