-- AI as the service hub (docs/ai.md): customer-service conversations with every message and tool
-- call kept for audit, and the interaction history that recommendations learn from (views,
-- favourites, searches; orders are already in `orders`).

-- A resident's conversation with customer service. The AI agent answers while status is 'ai';
-- a handover puts it in the human queue ('queued'); a customer-service account takes it over
-- ('human') and from then on the agent stays silent.
CREATE TABLE support_conversations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'ai' CHECK (status IN ('ai', 'queued', 'human', 'closed')),
    agent_id        uuid REFERENCES users (id),
    handover_reason text CHECK (char_length(handover_reason) <= 200),
    -- A refund the agent proposed and the resident has yet to confirm: {"order_id": ...}.
    pending_refund  jsonb,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    queued_at       timestamptz,
    taken_at        timestamptz,
    closed_at       timestamptz,
    CONSTRAINT support_human_has_agent CHECK ((status = 'human') <= (agent_id IS NOT NULL))
);
CREATE INDEX support_conversations_user_idx ON support_conversations (user_id, created_at DESC);
CREATE INDEX support_conversations_queue_idx ON support_conversations (queued_at)
    WHERE status = 'queued';

-- Every message of a conversation, in order: the resident's, the AI agent's, a human agent's and
-- system notes (handover, take-over). An AI reply names the message it answers, once (arq runs a
-- job at least once; the unique index makes the second run a no-op).
CREATE TABLE support_messages (
    id              bigserial PRIMARY KEY,
    conversation_id uuid NOT NULL REFERENCES support_conversations (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('user', 'assistant', 'agent', 'system')),
    author_id       uuid REFERENCES users (id),
    body            text NOT NULL CHECK (char_length(body) <= 4000),
    -- For AI replies: the facts rendered from tool results and the engine that answered.
    data            jsonb NOT NULL DEFAULT '{}',
    reply_to        bigint REFERENCES support_messages (id),
    created_at      timestamptz NOT NULL
);
CREATE INDEX support_messages_conversation_idx ON support_messages (conversation_id, id);
CREATE UNIQUE INDEX support_messages_one_reply ON support_messages (reply_to)
    WHERE role = 'assistant';

-- The audit of every tool the agent called: with what, for whom, and what it returned.
CREATE TABLE support_tool_calls (
    id              bigserial PRIMARY KEY,
    conversation_id uuid NOT NULL REFERENCES support_conversations (id) ON DELETE CASCADE,
    message_id      bigint NOT NULL REFERENCES support_messages (id) ON DELETE CASCADE,
    tool            text NOT NULL,
    arguments       jsonb NOT NULL,
    result          jsonb NOT NULL,
    ok              boolean NOT NULL,
    engine          text NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX support_tool_calls_conversation_idx ON support_tool_calls (conversation_id, id);

-- Interaction history for recommendations.
CREATE TABLE listing_views (
    id          bigserial PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    listing_id  uuid NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    viewed_at   timestamptz NOT NULL
);
CREATE INDEX listing_views_user_idx ON listing_views (user_id, viewed_at DESC);
CREATE INDEX listing_views_listing_idx ON listing_views (listing_id, viewed_at DESC);

CREATE TABLE listing_favourites (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    listing_id  uuid NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (user_id, listing_id)
);
CREATE INDEX listing_favourites_listing_idx ON listing_favourites (listing_id);

-- Searches with the intent parsed from them: what a resident looks for is the strongest signal.
CREATE TABLE search_log (
    id          bigserial PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    query       text NOT NULL CHECK (char_length(query) <= 200),
    intent      jsonb NOT NULL,
    engine      text NOT NULL,
    results     integer NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX search_log_user_idx ON search_log (user_id, created_at DESC);
