-- Property companies (物业公司), their staff, communities (小区) and residents' memberships.
CREATE TABLE property_companies (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE property_staff (
    company_id  uuid NOT NULL REFERENCES property_companies (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_by    uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, user_id)
);
CREATE INDEX property_staff_user_idx ON property_staff (user_id);

CREATE TABLE communities (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                 text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    address              text NOT NULL CHECK (char_length(address) BETWEEN 1 AND 300),
    latitude             numeric(9, 6) NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude            numeric(9, 6) NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    geohash              text NOT NULL CHECK (geohash ~ '^[0-9b-hjkmnp-z]{1,12}$'),
    property_company_id  uuid REFERENCES property_companies (id),
    created_by           uuid REFERENCES users (id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, address)
);
CREATE INDEX communities_geohash_idx ON communities (geohash text_pattern_ops);
CREATE INDEX communities_company_idx ON communities (property_company_id);

-- 住户认证: a resident asks to join; property staff of the community verify or reject.
CREATE TABLE community_members (
    community_id  uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status        text NOT NULL CHECK (status IN ('pending', 'verified', 'rejected')),
    unit          text CHECK (char_length(unit) <= 50),
    note          text CHECK (char_length(note) <= 200),
    decided_by    uuid REFERENCES users (id),
    decided_at    timestamptz,
    reason        text CHECK (char_length(reason) <= 200),
    requested_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, user_id)
);
CREATE INDEX community_members_user_idx ON community_members (user_id);
CREATE INDEX community_members_status_idx ON community_members (community_id, status);
