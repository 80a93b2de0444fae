-- Images uploaded for a conversation and not sent yet (docs/conversations.md, "Images"). The row
-- is written before the file and goes when a message carries the key; the conversations job
-- deletes rows older than a day, then their files: an image never sent does not stay forever.
CREATE TABLE conversation_uploads (
    image_key        text PRIMARY KEY CHECK (char_length(image_key) BETWEEN 1 AND 200),
    conversation_id  uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    uploaded_by      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at       timestamptz NOT NULL
);
CREATE INDEX conversation_uploads_age_idx ON conversation_uploads (created_at);
