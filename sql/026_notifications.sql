-- The notification centre (issue 19 item 7, docs/notifications.md).

-- Where a merchant applicant hears about the review decision by e-mail (optional).
ALTER TABLE merchants
    ADD COLUMN contact_email text
        CHECK (char_length(contact_email) <= 254 AND contact_email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$');

-- One row per (user, notification). The dedupe key is what makes notify() idempotent: a retried
-- event (a webhook applied again, a job run twice) inserts nothing the second time.
CREATE TABLE notifications (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,49}$'),
    dedupe_key  text NOT NULL CHECK (char_length(dedupe_key) BETWEEN 1 AND 200),
    title       text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 100),
    body        text NOT NULL CHECK (char_length(body) <= 2000),
    data        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL,
    read_at     timestamptz,
    -- Set when the live push was claimed: the push is at most once, the row is the truth.
    pushed_at   timestamptz,
    UNIQUE (user_id, dedupe_key)
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id) WHERE read_at IS NULL;
CREATE INDEX notifications_unpushed_idx ON notifications (created_at) WHERE pushed_at IS NULL;

-- SMS and e-mail copies of a notification: stored with the notification (in the caller's
-- transaction), sent by a job, retried with backoff, so a provider outage loses nothing.
CREATE TABLE notification_deliveries (
    notification_id  uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    channel          text NOT NULL CHECK (channel IN ('sms', 'email')),
    address          text NOT NULL CHECK (char_length(address) BETWEEN 3 AND 254),
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- While pending: when the next attempt is due (a claimed attempt pushes it out by a lease).
    next_attempt_at  timestamptz NOT NULL,
    last_error       text CHECK (char_length(last_error) <= 500),
    sent_at          timestamptz,
    PRIMARY KEY (notification_id, channel)
);
CREATE INDEX notification_deliveries_due_idx
    ON notification_deliveries (next_attempt_at) WHERE status = 'pending';

-- Platform announcements (平台公告) by admins; a job fans them out to notifications in batches
-- of users ordered by id, remembering the last id done, so a rerun continues where it stopped.
CREATE TABLE announcements (
    id            uuid PRIMARY KEY,
    author_id     uuid NOT NULL REFERENCES users (id),
    title         text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 100),
    body          text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 2000),
    audience      text NOT NULL CHECK (audience IN ('all', 'community', 'role')),
    community_id  uuid REFERENCES communities (id),
    role          text CHECK (role IN ('resident', 'merchant', 'property_staff', 'admin', 'customer_service')),
    status        text NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'sent')),
    last_user_id  uuid,
    recipients    integer NOT NULL DEFAULT 0 CHECK (recipients >= 0),
    created_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    CHECK ((audience = 'community') = (community_id IS NOT NULL)),
    CHECK ((audience = 'role') = (role IS NOT NULL))
);
CREATE INDEX announcements_created_idx ON announcements (created_at DESC, id DESC);
CREATE INDEX announcements_sending_idx ON announcements (created_at) WHERE status = 'sending';
