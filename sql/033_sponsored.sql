-- Sponsored slots in live channels (广告曝光, issue 20 item 5): admins sell brands slots in the
-- live streams of chosen communities; during a stream in a targeted community within the slot's
-- window the channel shows the slot's creative (a `sponsor.show` channel event); viewers' reports
-- count impressions and clicks once per viewer and showing; the brand gets a report.
-- docs/sponsored.md.

CREATE TABLE sponsor_brands (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 60),
    contact     text NOT NULL DEFAULT '' CHECK (char_length(contact) <= 100),
    created_by  uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL
);

-- A sale to a brand: price_fen is what the brand pays for the campaign (recorded, invoiced
-- outside the platform's payment flow).
CREATE TABLE sponsor_campaigns (
    id          uuid PRIMARY KEY,
    brand_id    uuid NOT NULL REFERENCES sponsor_brands (id),
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 60),
    price_fen   bigint NOT NULL CHECK (price_fen BETWEEN 0 AND 10000000000),
    created_by  uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL
);
CREATE INDEX sponsor_campaigns_brand_idx ON sponsor_campaigns (brand_id);

CREATE TABLE sponsor_creatives (
    id           uuid PRIMARY KEY,
    campaign_id  uuid NOT NULL REFERENCES sponsor_campaigns (id),
    title        text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 40),
    -- An https/http link or a path inside the app ("/listings/…"), checked by the service.
    link_url     text NOT NULL CHECK (char_length(link_url) BETWEEN 1 AND 500),
    image_key    text,
    created_at   timestamptz NOT NULL
);
CREATE INDEX sponsor_creatives_campaign_idx ON sponsor_creatives (campaign_id);

CREATE TABLE sponsor_slots (
    id           uuid PRIMARY KEY,
    campaign_id  uuid NOT NULL REFERENCES sponsor_campaigns (id),
    creative_id  uuid NOT NULL REFERENCES sponsor_creatives (id),
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    -- Seconds the card stays on viewers' screens.
    duration_s   integer NOT NULL CHECK (duration_s BETWEEN 5 AND 600),
    cancelled_at timestamptz,
    created_at   timestamptz NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE TABLE sponsor_slot_communities (
    slot_id       uuid NOT NULL REFERENCES sponsor_slots (id) ON DELETE CASCADE,
    community_id  uuid NOT NULL REFERENCES communities (id),
    PRIMARY KEY (slot_id, community_id)
);
CREATE INDEX sponsor_slot_communities_community_idx ON sponsor_slot_communities (community_id);

-- One showing of a slot in one live session (the channel actor records it before emitting the
-- event, so a new owner after failover finds it and does not show it again).
CREATE TABLE sponsor_shows (
    slot_id       uuid NOT NULL REFERENCES sponsor_slots (id),
    session_id    text NOT NULL CHECK (char_length(session_id) BETWEEN 1 AND 100),
    community_id  uuid NOT NULL REFERENCES communities (id),
    shown_at      timestamptz NOT NULL,
    PRIMARY KEY (slot_id, session_id)
);

-- A viewer saw (or clicked) a showing: once per viewer and showing, whatever the replays.
CREATE TABLE sponsor_impressions (
    slot_id       uuid NOT NULL,
    session_id    text NOT NULL,
    user_id       uuid NOT NULL REFERENCES users (id),
    community_id  uuid NOT NULL REFERENCES communities (id),
    at            timestamptz NOT NULL,
    PRIMARY KEY (slot_id, session_id, user_id),
    FOREIGN KEY (slot_id, session_id) REFERENCES sponsor_shows (slot_id, session_id)
);
CREATE TABLE sponsor_clicks (
    slot_id       uuid NOT NULL,
    session_id    text NOT NULL,
    user_id       uuid NOT NULL REFERENCES users (id),
    community_id  uuid NOT NULL REFERENCES communities (id),
    at            timestamptz NOT NULL,
    PRIMARY KEY (slot_id, session_id, user_id),
    FOREIGN KEY (slot_id, session_id) REFERENCES sponsor_shows (slot_id, session_id)
);
