-- AI operations (智能运营) and the customer portrait (用户画像): aggregates kept up to date as
-- things happen, so every screen and the weekly suggestions read small bucket rows, never the
-- event tables (docs/insights.md).

-- Hourly activity per community and listing category. "No community" (a user who is not a
-- verified resident anywhere) is the nil UUID, so the key needs no NULL. Orders and GMV are
-- bumped in the order's own transaction; views, favourites and searches by the roll-up job.
CREATE TABLE insight_activity (
    community_id  uuid NOT NULL,
    category      text NOT NULL CHECK (char_length(category) BETWEEN 1 AND 40),
    hour          timestamptz NOT NULL CHECK (date_trunc('hour', hour) = hour),
    views         integer NOT NULL DEFAULT 0,
    favourites    integer NOT NULL DEFAULT 0,
    searches      integer NOT NULL DEFAULT 0,
    orders        integer NOT NULL DEFAULT 0,
    gmv_fen       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (community_id, hour, category)
);
CREATE INDEX insight_activity_hour_idx ON insight_activity (hour);

-- Hourly life of a community channel: residents verified and chat messages (the effect of a
-- live stream, a group buy or an event is read from here and from insight_activity).
CREATE TABLE insight_community_hours (
    community_id    uuid NOT NULL,
    hour            timestamptz NOT NULL CHECK (date_trunc('hour', hour) = hour),
    members_joined  integer NOT NULL DEFAULT 0,
    messages        integer NOT NULL DEFAULT 0,
    PRIMARY KEY (community_id, hour)
);

-- Complaint signals per subject and business day (Asia/Shanghai). A subject is a listing, a
-- seller (user) or a merchant; community_id is where it happened (nil UUID when unknown), so
-- property staff see the subjects of their communities.
CREATE TABLE insight_risk_days (
    subject_kind       text NOT NULL CHECK (subject_kind IN ('listing', 'seller', 'merchant')),
    subject_id         uuid NOT NULL,
    community_id       uuid NOT NULL,
    day                date NOT NULL,
    orders             integer NOT NULL DEFAULT 0,
    reports            integer NOT NULL DEFAULT 0,
    refunds            integer NOT NULL DEFAULT 0,
    cancellations      integer NOT NULL DEFAULT 0,
    ratings            integer NOT NULL DEFAULT 0,
    low_ratings        integer NOT NULL DEFAULT 0,
    reported_messages  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (subject_kind, subject_id, community_id, day)
);
CREATE INDEX insight_risk_days_community_idx ON insight_risk_days (community_id, day);
CREATE INDEX insight_risk_days_day_idx ON insight_risk_days (day);

-- Where each roll-up from an append-only source has got to. The roll-up locks its row, adds the
-- rows after the mark and moves the mark in one transaction: running it twice counts nothing
-- twice (docs/insights.md "Roll-up").
CREATE TABLE insight_marks (
    source      text PRIMARY KEY,
    last_id     bigint NOT NULL DEFAULT 0,
    last_at     timestamptz,
    last_uuid   uuid,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- Chat messages are numbered per community: one mark per community.
CREATE TABLE insight_channel_marks (
    community_id  uuid PRIMARY KEY,
    last_seq      bigint NOT NULL DEFAULT 0
);

-- A merchant's buyers (paid orders and paid group-buy orders): the portrait groups these rows.
CREATE TABLE insight_merchant_buyers (
    merchant_id    uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    buyer_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    community_id   uuid NOT NULL,
    orders         integer NOT NULL DEFAULT 0,
    gmv_fen        bigint NOT NULL DEFAULT 0,
    first_paid_at  timestamptz NOT NULL,
    last_paid_at   timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, buyer_id)
);

-- Reports of listings by residents (举报商品): one per reporter and listing.
CREATE TABLE listing_reports (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    listing_id   uuid NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    reporter_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason       text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 200),
    created_at   timestamptz NOT NULL,
    UNIQUE (listing_id, reporter_id)
);

-- Optional profile fields a user chooses to give, with their consent (我的 → 画像资料). Absent
-- by default; withdrawing consent deletes the row. Only these feed a portrait's age and gender.
CREATE TABLE user_demographics (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    gender       text CHECK (gender IN ('female', 'male', 'other')),
    birth_year   integer CHECK (birth_year BETWEEN 1900 AND 2100),
    consented_at timestamptz NOT NULL,
    CHECK (gender IS NOT NULL OR birth_year IS NOT NULL)
);

-- The weekly suggestions, one row per audience and week: the job writes each once.
CREATE TABLE insight_suggestions (
    audience_kind  text NOT NULL CHECK (audience_kind IN ('community', 'merchant')),
    audience_id    uuid NOT NULL,
    week           date NOT NULL,
    items          jsonb NOT NULL,
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (audience_kind, audience_id, week)
);

-- The favourites roll-up reads by time.
CREATE INDEX listing_favourites_created_idx ON listing_favourites (created_at);
-- Message reports are rolled up by time too.
CREATE INDEX message_reports_created_idx ON message_reports (created_at);
