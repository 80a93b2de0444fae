-- Coupons (优惠券, issue 18): templates, the coupons residents hold, and what orders, group-buy
-- seats and payments record of the discounts. docs/money.md ("Coupons and discounts") explains
-- who funds a discount and how the ledger records it; lago_core/coupons/ holds the rules.

CREATE TABLE coupon_templates (
    id                  uuid PRIMARY KEY,
    name                text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 60),
    kind                text NOT NULL CHECK (kind IN ('amount_off', 'percent_off')),
    amount_off_fen      bigint CHECK (amount_off_fen > 0),
    percent_off_bps     integer CHECK (percent_off_bps BETWEEN 1 AND 9999),
    max_discount_fen    bigint CHECK (max_discount_fen > 0),
    -- The price (before any discount) an order must reach; 0: no threshold (无门槛).
    threshold_fen       bigint NOT NULL DEFAULT 0 CHECK (threshold_fen >= 0),
    -- Scope: empty arrays mean everything; both set: a listing of those categories OR ids.
    categories          text[] NOT NULL DEFAULT '{}',
    listing_ids         uuid[] NOT NULL DEFAULT '{}',
    merchant_id         uuid REFERENCES merchants (id) ON DELETE RESTRICT,
    funded_by           text NOT NULL CHECK (funded_by IN ('platform', 'merchant')),
    total_count         integer CHECK (total_count > 0),
    issued_count        integer NOT NULL DEFAULT 0 CHECK (issued_count >= 0),
    used_count          integer NOT NULL DEFAULT 0 CHECK (used_count >= 0),
    per_user_limit      integer NOT NULL DEFAULT 1 CHECK (per_user_limit BETWEEN 1 AND 100),
    valid_days          integer NOT NULL CHECK (valid_days BETWEEN 1 AND 366),
    claimable           boolean NOT NULL DEFAULT true,
    new_user            boolean NOT NULL DEFAULT false,
    -- Merchant coupons: the most the merchant will give in discounts; discount_given_fen counts
    -- the discounts of coupons locked to or used by orders (reserved at lock, docs/money.md).
    budget_fen          bigint CHECK (budget_fen > 0),
    discount_given_fen  bigint NOT NULL DEFAULT 0 CHECK (discount_given_fen >= 0),
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),
    starts_at           timestamptz,
    ends_at             timestamptz,
    created_by          uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CONSTRAINT coupon_templates_kind_fields CHECK (
        (kind = 'amount_off' AND amount_off_fen IS NOT NULL AND percent_off_bps IS NULL
             AND max_discount_fen IS NULL)
        OR (kind = 'percent_off' AND percent_off_bps IS NOT NULL AND amount_off_fen IS NULL)
    ),
    CONSTRAINT coupon_templates_funding CHECK (
        (funded_by = 'platform' AND merchant_id IS NULL AND budget_fen IS NULL)
        OR (funded_by = 'merchant' AND merchant_id IS NOT NULL AND budget_fen IS NOT NULL)
    ),
    -- The last guards of the two races: never more issued than the count, never more
    -- discount than the budget.
    CONSTRAINT coupon_templates_issued_within_count CHECK (
        total_count IS NULL OR issued_count <= total_count
    ),
    CONSTRAINT coupon_templates_used_within_issued CHECK (used_count <= issued_count),
    CONSTRAINT coupon_templates_within_budget CHECK (
        budget_fen IS NULL OR discount_given_fen <= budget_fen
    ),
    CHECK (cardinality(categories) <= 50 AND cardinality(listing_ids) <= 200)
);
CREATE INDEX coupon_templates_merchant_idx ON coupon_templates (merchant_id, created_at DESC);
CREATE INDEX coupon_templates_claimable_idx ON coupon_templates (created_at DESC)
    WHERE status = 'active' AND claimable;
CREATE INDEX coupon_templates_new_user_idx ON coupon_templates (id)
    WHERE status = 'active' AND new_user;

CREATE TABLE user_coupons (
    id            uuid PRIMARY KEY,
    template_id   uuid NOT NULL REFERENCES coupon_templates (id) ON DELETE RESTRICT,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    -- 'expired' is written by the sweep; an 'available' coupon past expires_at is expired too
    -- (every use checks expires_at), so a late sweep never lets one be spent.
    status        text NOT NULL DEFAULT 'available'
                  CHECK (status IN ('available', 'locked', 'used', 'expired')),
    source        text NOT NULL CHECK (source IN ('claim', 'grant', 'signup', 'points')),
    -- Idempotency of issuing (points redemption, sign-up, grants): a repeat finds the first.
    issue_key     text UNIQUE CHECK (char_length(issue_key) BETWEEN 1 AND 200),
    issued_at     timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    -- What holds a locked or used coupon: an order, or a group-buy seat.
    holder_type   text CHECK (holder_type IN ('order', 'group_buy_seat')),
    holder_id     uuid,
    discount_fen  bigint CHECK (discount_fen >= 0),
    locked_at     timestamptz,
    used_at       timestamptz,
    CONSTRAINT user_coupons_holder CHECK (
        (status IN ('locked', 'used')) = (holder_id IS NOT NULL)
        AND (holder_id IS NULL) = (holder_type IS NULL)
        AND (holder_id IS NULL) = (discount_fen IS NULL)
    )
);
CREATE INDEX user_coupons_wallet_idx ON user_coupons (user_id, status, expires_at);
CREATE INDEX user_coupons_template_user_idx ON user_coupons (template_id, user_id);
CREATE INDEX user_coupons_holder_idx ON user_coupons (holder_type, holder_id)
    WHERE holder_id IS NOT NULL;
CREATE INDEX user_coupons_expiring_idx ON user_coupons (expires_at) WHERE status = 'available';

-- Orders record their discounts; the payment asks price − discount_fen.
ALTER TABLE orders
    ADD COLUMN discount_fen          bigint NOT NULL DEFAULT 0 CHECK (discount_fen >= 0),
    ADD COLUMN platform_discount_fen bigint NOT NULL DEFAULT 0 CHECK (platform_discount_fen >= 0),
    ADD COLUMN merchant_discount_fen bigint NOT NULL DEFAULT 0 CHECK (merchant_discount_fen >= 0),
    ADD COLUMN coupon_ids            uuid[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT orders_discount_parts CHECK (
        discount_fen = platform_discount_fen + merchant_discount_fen AND discount_fen < price_fen
    );

-- A payment's amount_fen stays what the buyer pays for the price. A platform coupon adds
-- platform_discount_fen, paid by the platform (platform_coupon_expense): the payee, the
-- commission and the property share are split from amount_fen + platform_discount_fen. A
-- merchant coupon is recorded (merchant_discount_fen) but is simply a lower price for everyone.
ALTER TABLE payments
    ADD COLUMN platform_discount_fen bigint NOT NULL DEFAULT 0 CHECK (platform_discount_fen >= 0),
    ADD COLUMN merchant_discount_fen bigint NOT NULL DEFAULT 0 CHECK (merchant_discount_fen >= 0),
    ADD COLUMN refunded_platform_discount_fen bigint NOT NULL DEFAULT 0;

-- The split's checks now count the platform's part: drop the old ones by their definition (they
-- were declared unnamed) and add named ones.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
         WHERE conrelid = 'payments'::regclass AND contype = 'c'
    LOOP
        IF c.def LIKE '%(commission_fen + property_share_fen) <= amount_fen%'
           OR c.def LIKE '%refunded_fen = ((refunded_payee_fen + refunded_commission_fen) + refunded_property_fen)%'
           OR c.def LIKE '%refunded_payee_fen <= ((amount_fen - commission_fen) - property_share_fen)%'
        THEN
            EXECUTE format('ALTER TABLE payments DROP CONSTRAINT %I', c.conname);
        END IF;
    END LOOP;
END $$;

ALTER TABLE payments
    ADD CONSTRAINT payments_split_within_base CHECK (
        commission_fen + property_share_fen <= amount_fen + platform_discount_fen),
    ADD CONSTRAINT payments_refund_parts CHECK (
        refunded_fen + refunded_platform_discount_fen
            = refunded_payee_fen + refunded_commission_fen + refunded_property_fen),
    ADD CONSTRAINT payments_refunded_payee_within CHECK (
        refunded_payee_fen
            <= amount_fen + platform_discount_fen - commission_fen - property_share_fen),
    ADD CONSTRAINT payments_refunded_discount_within CHECK (
        refunded_platform_discount_fen BETWEEN 0 AND platform_discount_fen);

-- The platform's cost of its coupons (debit-normal, an expense), and the platform's own money
-- put into the provider account to pay for them (credit-normal).
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check CHECK (kind IN (
    'payments_clearing', 'deposit_escrow', 'seller_payable', 'merchant_payable',
    'platform_commission_revenue', 'property_revenue_share', 'refunds', 'payouts_in_transit',
    'platform_coupon_expense', 'platform_funding'));

-- The platform pays its coupons' discounts into the provider account (the buyer paid less than
-- the payee is owed): one top-up per payment, after its capture (the payments sweep heals a
-- top-up a crash left undone).
ALTER TABLE payments ADD COLUMN coupon_funded_at timestamptz;
CREATE INDEX payments_coupon_unfunded_idx ON payments (captured_at)
    WHERE platform_discount_fen > 0 AND status = 'captured' AND coupon_funded_at IS NULL;

-- The sandbox provider's side of a top-up (it stands in for the provider's own records).
CREATE TABLE sandbox_top_ups (
    id               text PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    amount_fen       bigint NOT NULL CHECK (amount_fen > 0),
    metadata         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL
);

-- Settlement items and the merchant's statements show the merchant's own discounts.
ALTER TABLE settlement_items ADD COLUMN merchant_discount_fen bigint NOT NULL DEFAULT 0;
ALTER TABLE settlement_group_buy_items ADD COLUMN merchant_discount_fen bigint NOT NULL DEFAULT 0;
ALTER TABLE merchant_daily_stats ADD COLUMN discount_fen bigint NOT NULL DEFAULT 0;
-- A group-buy order keeps its seat payment's merchant discount (the dashboard's revenue is after it).
ALTER TABLE group_buy_orders ADD COLUMN merchant_discount_fen bigint NOT NULL DEFAULT 0
    CHECK (merchant_discount_fen >= 0);
