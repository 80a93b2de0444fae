-- Issue 16, items 1 and 2 (docs/architecture.md, "Channel actor: failures and durability").

-- Events the archive could not store (text PostgreSQL refuses, a malformed row): set aside with
-- the error so the archive moves past them instead of retrying one poisonous batch for ever.
-- `raw` is the event exactly as the stream held it (JSON bytes), kept as bytea because the
-- reason it was refused is often that it cannot be text.
CREATE TABLE channel_archive_rejects (
    community_id  uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    seq           bigint NOT NULL,
    type          text NOT NULL,
    raw           bytea NOT NULL,
    error         text NOT NULL,
    rejected_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, seq)
);

-- The highest sequence number a channel's owner may have given. An owner reserves blocks ahead
-- of the numbers it gives; an owner that finds the Redis stream gone starts above the ceiling,
-- so a number is never given twice even when Redis loses everything.
CREATE TABLE channel_seq_ceilings (
    community_id  uuid PRIMARY KEY,
    ceiling       bigint NOT NULL CHECK (ceiling >= 0)
);
