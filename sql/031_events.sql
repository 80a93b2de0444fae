-- Weekend events (社区活动, issue 20 item 2; docs/events.md): what staff organise, who signed up
-- (a seat or a place in the waiting list), who was checked in, and what an event links to.
CREATE TABLE events (
    id                uuid PRIMARY KEY,
    community_id      uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    created_by        uuid NOT NULL REFERENCES users (id),
    title             text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 100),
    place             text NOT NULL CHECK (char_length(place) BETWEEN 1 AND 200),
    programme         text NOT NULL DEFAULT '' CHECK (char_length(programme) <= 4000),
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    signup_opens_at   timestamptz NOT NULL,
    signup_closes_at  timestamptz NOT NULL,
    capacity          integer NOT NULL CHECK (capacity BETWEEN 1 AND 10000),
    -- Kept under the event's row lock by every sign-up, cancellation and promotion: the CHECK is
    -- the last word on "capacity is never exceeded".
    confirmed_count   integer NOT NULL DEFAULT 0,
    status            text NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'published', 'cancelled', 'finished')),
    cancel_reason     text CHECK (char_length(cancel_reason) <= 500),
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    CHECK (starts_at < ends_at),
    CHECK (signup_opens_at < signup_closes_at),
    CHECK (signup_closes_at <= ends_at),
    CHECK (confirmed_count BETWEEN 0 AND capacity)
);
CREATE INDEX events_community_idx ON events (community_id, starts_at DESC, id);

-- Arrival order of sign-ups: taken under the event's lock, so it is also the order seats went.
CREATE SEQUENCE event_registration_seq;

-- One row per resident and event: a second sign-up answers with it; signing up again after
-- cancelling re-opens it at the back of the queue, with a new ticket nonce (old QR codes die).
CREATE TABLE event_registrations (
    id               uuid PRIMARY KEY,
    event_id         uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status           text NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'cancelled')),
    seq              bigint NOT NULL,
    -- Signed up with a points privilege (优先报名): ahead of every ordinary waiting resident.
    priority         boolean NOT NULL DEFAULT false,
    entitlement_id   uuid UNIQUE REFERENCES points_entitlements (id),
    ticket_nonce     text NOT NULL CHECK (ticket_nonce ~ '^[A-Za-z0-9_-]{8,32}$'),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    confirmed_at     timestamptz,
    cancelled_at     timestamptz,
    cancelled_by     uuid REFERENCES users (id),
    checked_in_at    timestamptz,
    checked_in_by    uuid REFERENCES users (id),
    UNIQUE (event_id, user_id),
    CHECK (checked_in_at IS NULL OR status = 'confirmed')
);
CREATE INDEX event_registrations_queue_idx ON event_registrations (event_id, priority DESC, seq)
    WHERE status = 'waitlisted';
CREATE INDEX event_registrations_user_idx ON event_registrations (user_id, created_at DESC);

-- What an event shows alongside it: a live stream (its announcement 活动预告), lottery draws,
-- group buys — existing ones of the same community, attached by staff.
CREATE TABLE event_links (
    event_id    uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('live', 'draw', 'group_buy')),
    target_id   uuid NOT NULL,
    created_by  uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (event_id, kind, target_id)
);
