-- Channel actors: fencing claims, the archive of channel events, and reports to customer service.

-- The newest epoch that claimed each actor. Every PostgreSQL write of an actor checks it (FOR SHARE)
-- inside its transaction, so a stale owner after a pause cannot write.
CREATE TABLE actor_epochs (
    kind        text NOT NULL,
    key         text NOT NULL,
    epoch       bigint NOT NULL CHECK (epoch > 0),
    instance    text NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);

-- Long-term history: the bounded Redis stream is archived here in batches.
CREATE TABLE channel_events (
    community_id  uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    seq           bigint NOT NULL CHECK (seq > 0),
    type          text NOT NULL,
    user_id       uuid,
    client_msg_id text,
    data          jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    deleted_by    uuid,
    PRIMARY KEY (community_id, seq)
);
-- A resent chat message (same sender, same client id) is stored once, even across failover.
CREATE UNIQUE INDEX channel_events_client_msg ON channel_events (community_id, user_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
CREATE INDEX channel_events_history ON channel_events (community_id, seq DESC) WHERE type = 'chat.message';

CREATE TABLE message_reports (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    community_id  uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    seq           bigint NOT NULL,
    reporter_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason        text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 200),
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed')),
    handled_by    uuid REFERENCES users (id),
    handled_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (community_id, seq, reporter_id)
);
CREATE INDEX message_reports_open ON message_reports (created_at) WHERE status = 'open';
