-- Merchants: the minimum identity needs (owner and staff, communities served); the commerce
-- issue extends it with registration, review and store settings.
CREATE TABLE merchants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE merchant_members (
    merchant_id  uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         text NOT NULL CHECK (role IN ('owner', 'staff')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, user_id)
);
CREATE INDEX merchant_members_user_idx ON merchant_members (user_id);
-- One owner per merchant.
CREATE UNIQUE INDEX merchant_one_owner ON merchant_members (merchant_id) WHERE role = 'owner';

-- The communities a merchant serves: its listings are visible there.
CREATE TABLE merchant_communities (
    merchant_id   uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    community_id  uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    PRIMARY KEY (merchant_id, community_id)
);
CREATE INDEX merchant_communities_community_idx ON merchant_communities (community_id);
