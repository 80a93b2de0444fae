-- Toy circulation lockers (玩具循环柜, seed 000 §6): lockers and their slots, the items that stay
-- in slots (parcels), the single-use codes that open a slot, door commands with request ids, and
-- each locker's event log. docs/lockers.md describes the flows and the device protocol.

CREATE TABLE lockers (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    community_id       uuid NOT NULL REFERENCES communities (id) ON DELETE RESTRICT,
    name               text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 60),
    location           text NOT NULL DEFAULT '' CHECK (char_length(location) <= 200),
    -- SHA-256 of the device secret (a random 256-bit token, so a fast hash is enough, as for
    -- refresh tokens); rotating replaces it and the old secret stops working at once.
    secret_hash        bytea NOT NULL,
    secret_rotated_at  timestamptz NOT NULL,
    -- The last heartbeat or report; a locker is online while this is within 1.5 heartbeats.
    last_seen_at       timestamptz,
    created_by         uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    created_at         timestamptz NOT NULL
);
CREATE INDEX lockers_community_idx ON lockers (community_id);

-- What the device last reported about each slot.
CREATE TABLE locker_slots (
    locker_id    uuid NOT NULL REFERENCES lockers (id) ON DELETE CASCADE,
    slot_no      integer NOT NULL CHECK (slot_no BETWEEN 1 AND 999),
    size         text NOT NULL CHECK (size IN ('S', 'M', 'L')),
    door         text NOT NULL DEFAULT 'closed' CHECK (door IN ('open', 'closed')),
    occupied     boolean NOT NULL DEFAULT false,
    fault        text CHECK (char_length(fault) <= 64),
    reported_at  timestamptz,
    PRIMARY KEY (locker_id, slot_no)
);

-- One item's stay at a locker: deposited by its seller, picked up by a buyer or renter, returned
-- into a slot (possibly another one) at the end of a rental.
CREATE TABLE locker_parcels (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    locker_id   uuid NOT NULL REFERENCES lockers (id) ON DELETE RESTRICT,
    slot_no     integer NOT NULL,
    listing_id  uuid NOT NULL REFERENCES listings (id) ON DELETE RESTRICT,
    owner_id    uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    -- The order of the current buyer or renter, once a pickup code was issued for it.
    order_id    uuid REFERENCES orders (id) ON DELETE RESTRICT,
    status      text NOT NULL CHECK (status IN (
                    'awaiting_deposit', 'stored', 'awaiting_pickup', 'out', 'awaiting_return',
                    'closed')),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    FOREIGN KEY (locker_id, slot_no) REFERENCES locker_slots (locker_id, slot_no)
);
-- A slot holds (or is reserved for) one item at a time, and an item is at one locker at a time:
-- these hold even if two requests race for the last free slot.
CREATE UNIQUE INDEX locker_parcels_one_per_slot ON locker_parcels (locker_id, slot_no)
    WHERE status IN ('awaiting_deposit', 'stored', 'awaiting_pickup', 'awaiting_return');
CREATE UNIQUE INDEX locker_parcels_one_per_listing ON locker_parcels (listing_id)
    WHERE status <> 'closed';

-- Six-digit codes, stored as HMACs keyed with a server secret; single use, expiring, and bound
-- to the user they were issued to.
CREATE TABLE locker_codes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    parcel_id   uuid NOT NULL REFERENCES locker_parcels (id) ON DELETE CASCADE,
    locker_id   uuid NOT NULL REFERENCES lockers (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('deposit', 'pickup', 'return')),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   bytea NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL
);
-- Live codes of one locker never collide (the service draws another on a clash).
CREATE UNIQUE INDEX locker_codes_live ON locker_codes (locker_id, code_hash) WHERE used_at IS NULL;
CREATE INDEX locker_codes_lookup ON locker_codes (locker_id, code_hash, created_at DESC);

-- Door commands: stored before they are sent; every resend carries the same request id.
CREATE TABLE locker_commands (
    request_id    uuid PRIMARY KEY,
    locker_id     uuid NOT NULL REFERENCES lockers (id) ON DELETE CASCADE,
    slot_no       integer NOT NULL,
    purpose       text NOT NULL CHECK (purpose IN ('deposit', 'pickup', 'return', 'maintenance')),
    parcel_id     uuid REFERENCES locker_parcels (id) ON DELETE SET NULL,
    code_id       uuid REFERENCES locker_codes (id) ON DELETE SET NULL,
    actor_id      uuid REFERENCES users (id) ON DELETE SET NULL,
    reason        text CHECK (char_length(reason) <= 200),
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN (
                      'pending', 'acked', 'failed', 'timed_out', 'reconciled')),
    attempts      integer NOT NULL DEFAULT 0,
    error         text,
    created_at    timestamptz NOT NULL,
    last_sent_at  timestamptz,
    finished_at   timestamptz,
    FOREIGN KEY (locker_id, slot_no) REFERENCES locker_slots (locker_id, slot_no)
);
CREATE INDEX locker_commands_pending_idx ON locker_commands (locker_id, created_at)
    WHERE status = 'pending';
CREATE INDEX locker_commands_open_idx ON locker_commands (locker_id, slot_no)
    WHERE status IN ('pending', 'timed_out', 'failed');

-- Every step at a locker: registration, credential rotation, codes issued and used, commands
-- sent, acknowledged, timed out and reconciled, deposits, pickups, returns, maintenance, faults,
-- going offline and online.
CREATE TABLE locker_events (
    id          bigserial PRIMARY KEY,
    locker_id   uuid NOT NULL REFERENCES lockers (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    type        text NOT NULL,
    slot_no     integer,
    actor_kind  text NOT NULL CHECK (actor_kind IN ('user', 'device', 'system')),
    actor_id    uuid,
    request_id  uuid,
    parcel_id   uuid,
    data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX locker_events_locker_idx ON locker_events (locker_id, id);
