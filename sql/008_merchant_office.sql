-- Merchant back office (商家后台): registration and platform review, qualification documents,
-- store settings, and the catalogue of services and products with stock.
-- docs/architecture.md "## Merchants" explains the review state machine and who may do what.

-- Registration (入驻) and store settings live on the merchant itself: one row, one status.
-- Merchants that existed before this migration start as drafts, like new ones: none of them
-- has been reviewed.
ALTER TABLE merchants
    ADD COLUMN status text NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'submitted', 'approved', 'rejected', 'resubmitted')),
    ADD COLUMN legal_name            text CHECK (char_length(legal_name) BETWEEN 1 AND 200),
    -- 统一社会信用代码, GB 32100-2015; the service checks the check digit, the database the shape.
    ADD COLUMN credit_code           text CHECK (credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    ADD COLUMN legal_representative  text CHECK (char_length(legal_representative) BETWEEN 1 AND 50),
    ADD COLUMN contact_phone         text CHECK (contact_phone ~ '^\+[1-9][0-9]{6,14}$'),
    ADD COLUMN address               text CHECK (char_length(address) BETWEEN 1 AND 200),
    ADD COLUMN business_scope        text CHECK (char_length(business_scope) BETWEEN 1 AND 2000),
    ADD COLUMN rejection_reason      text,
    ADD COLUMN submitted_at          timestamptz,
    ADD COLUMN decided_at            timestamptz,
    -- Store settings (店铺设置). Opening hours: {"mon": [["09:00", "18:00"]], ...}, validated by
    -- the service (ranges sorted, non-overlapping, within the day).
    ADD COLUMN description           text NOT NULL DEFAULT ''
        CHECK (char_length(description) <= 2000),
    ADD COLUMN opening_hours         jsonb NOT NULL DEFAULT '{}'::jsonb
        CHECK (jsonb_typeof(opening_hours) = 'object'),
    ADD COLUMN logo_key              text,
    ADD COLUMN updated_at            timestamptz NOT NULL DEFAULT now(),
    -- A rejection always says why; nothing else carries a reason.
    ADD CONSTRAINT merchants_rejection_reason
        CHECK ((status = 'rejected') = (rejection_reason IS NOT NULL));
-- One merchant per company: a code registered twice is a duplicate or an impostor.
CREATE UNIQUE INDEX merchants_credit_code_key ON merchants (credit_code);
-- The admins' review queue.
CREATE INDEX merchants_status_idx ON merchants (status, submitted_at);

-- Qualification documents (资质): business licence, food permit, other permits.
CREATE TABLE merchant_documents (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    merchant_id   uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('business_licence', 'food_permit', 'other_permit')),
    storage_key   text NOT NULL UNIQUE,
    content_type  text NOT NULL,
    size_bytes    integer NOT NULL CHECK (size_bytes > 0),
    uploaded_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX merchant_documents_merchant_idx ON merchant_documents (merchant_id, created_at);

-- Every submission and decision, append-only: who, when, what, and why.
CREATE TABLE merchant_reviews (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id  uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    action       text NOT NULL CHECK (action IN ('submit', 'resubmit', 'approve', 'reject')),
    from_status  text NOT NULL,
    to_status    text NOT NULL,
    actor_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    reason       text CHECK (char_length(reason) BETWEEN 1 AND 500),
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((action = 'reject') = (reason IS NOT NULL))
);
CREATE INDEX merchant_reviews_merchant_idx ON merchant_reviews (merchant_id, id);

-- The catalogue (服务/商品): what a merchant sells, and how many it can still sell.
CREATE TABLE merchant_items (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    merchant_id  uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    kind         text NOT NULL CHECK (kind IN ('service', 'product')),
    price_fen    bigint NOT NULL CHECK (price_fen > 0),
    -- The last line of defence for reservations: a decrement below zero fails here even if a
    -- caller forgot the guarded UPDATE.
    stock        integer NOT NULL DEFAULT 0 CHECK (stock >= 0),
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX merchant_items_merchant_idx ON merchant_items (merchant_id, created_at, id);
