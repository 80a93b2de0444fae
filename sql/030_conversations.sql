-- Buyer–seller conversations (私信, issue 20 item 1; docs/conversations.md): one private
-- conversation per listing and buyer, its messages numbered per conversation, read positions,
-- blocks, and the reports and escalations that let customer service read it.

-- The seller side is the listing's owner: its seller for a resident's listing, the merchant (all
-- its owner and staff, as one party) for a merchant's. `last_seq` is the counter a send bumps
-- under the row's lock, so a conversation's sequence numbers are contiguous and in commit order.
CREATE TABLE conversations (
    id                 uuid PRIMARY KEY,
    listing_id         uuid NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    buyer_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seller_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    merchant_id        uuid REFERENCES merchants (id) ON DELETE CASCADE,
    last_seq           bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    last_message_at    timestamptz,
    -- Each side's read position: unread = last_seq - read_seq (a side's own sends move it too).
    buyer_read_seq     bigint NOT NULL DEFAULT 0 CHECK (buyer_read_seq >= 0),
    seller_read_seq    bigint NOT NULL DEFAULT 0 CHECK (seller_read_seq >= 0),
    -- A block is by one side of the other; it holds across every conversation of the same
    -- buyer and seller party (the service checks them all).
    buyer_blocked_at   timestamptz,
    seller_blocked_at  timestamptz,
    created_at         timestamptz NOT NULL,
    UNIQUE (listing_id, buyer_id),
    CHECK (buyer_id <> seller_id),
    CHECK (buyer_read_seq <= last_seq AND seller_read_seq <= last_seq)
);
CREATE INDEX conversations_buyer_idx ON conversations (buyer_id, last_message_at DESC NULLS LAST);
CREATE INDEX conversations_seller_idx ON conversations (seller_id, last_message_at DESC NULLS LAST)
    WHERE merchant_id IS NULL;
CREATE INDEX conversations_merchant_idx
    ON conversations (merchant_id, last_message_at DESC NULLS LAST) WHERE merchant_id IS NOT NULL;

-- Messages: text, or an image (a storage key bound to the conversation by its name), or both.
-- UNIQUE (conversation_id, client_msg_id) makes a resend insert nothing: it is answered with
-- the first send's sequence number.
CREATE TABLE conversation_messages (
    conversation_id  uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq              bigint NOT NULL CHECK (seq > 0),
    sender_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    side             text NOT NULL CHECK (side IN ('buyer', 'seller')),
    client_msg_id    text NOT NULL CHECK (client_msg_id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    text             text NOT NULL DEFAULT '' CHECK (char_length(text) <= 2000),
    image_key        text CHECK (char_length(image_key) BETWEEN 1 AND 200),
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    UNIQUE (conversation_id, client_msg_id),
    CHECK (char_length(text) > 0 OR image_key IS NOT NULL)
);

-- Reports (举报) and escalations (求助客服) by a party. A conversation with any case is visible to
-- customer service and admins; one without is seen by its two parties only. One open case per
-- party and kind: a repeat returns it.
CREATE TABLE conversation_cases (
    id               uuid PRIMARY KEY,
    conversation_id  uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('report', 'escalation')),
    opened_by        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    side             text NOT NULL CHECK (side IN ('buyer', 'seller')),
    reason           text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    seq              bigint CHECK (seq > 0),
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed')),
    created_at       timestamptz NOT NULL,
    handled_by       uuid REFERENCES users (id),
    handled_at       timestamptz,
    note             text CHECK (char_length(note) <= 500)
);
CREATE UNIQUE INDEX conversation_cases_open_once
    ON conversation_cases (conversation_id, opened_by, kind) WHERE status = 'open';
CREATE INDEX conversation_cases_queue ON conversation_cases (status, created_at, id);
CREATE INDEX conversation_cases_conversation ON conversation_cases (conversation_id);
