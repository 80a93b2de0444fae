-- Subscriptions (issue 19, items 1–3; docs/subscriptions.md): plans, subscriptions paid through
-- a provider agreement signed once and charged by us on each renewal, memberships (会员) and
-- seller virtual-number plans (虚拟号), the virtual-number bindings and their call records.

-- What can be subscribed to. `grants` says what a plan gives; the code reads it, so a new plan
-- of a known kind is a row, not a release. `tier` orders the plans of a kind: a change to a
-- higher tier is an upgrade (now, pro rata), to a lower one a downgrade (at the period's end).
CREATE TABLE subscription_plans (
    code               text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
    name               text NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('membership', 'virtual_number')),
    tier               integer NOT NULL CHECK (tier > 0),
    monthly_price_fen  bigint NOT NULL CHECK (monthly_price_fen > 0),
    grants             jsonb NOT NULL DEFAULT '{}',
    active             boolean NOT NULL DEFAULT true,
    UNIQUE (kind, tier)
);

-- The plans themselves are lago_core/subscriptions/plans.py, inserted when a process starts.

-- One subscription per user and kind at a time: pending (the agreement not yet signed or the
-- first charge not yet through), active, past_due (a renewal failed; benefits hold during the
-- grace period) — then canceled (at the period's end, on request), lapsed (grace ran out) or
-- abandoned (never signed).
CREATE TABLE subscriptions (
    id                    uuid PRIMARY KEY,
    user_id               uuid NOT NULL REFERENCES users (id),
    plan_code             text NOT NULL REFERENCES subscription_plans (code),
    kind                  text NOT NULL CHECK (kind IN ('membership', 'virtual_number')),
    status                text NOT NULL CHECK (status IN (
                              'pending', 'active', 'past_due', 'canceled', 'lapsed', 'abandoned')),
    provider              text NOT NULL,
    agreement_id          text UNIQUE,
    agreement_secret      text,
    agreement_signed_at   timestamptz,
    period_number         integer NOT NULL DEFAULT 0 CHECK (period_number >= 0),
    current_period_start  timestamptz,
    current_period_end    timestamptz,
    -- Benefits hold while status is active or past_due and now < access_until: the period's end,
    -- or the end of the grace period once a renewal failed.
    access_until          timestamptz,
    cancel_at_period_end  boolean NOT NULL DEFAULT false,
    -- A downgrade waits for the period's end (then this becomes plan_code).
    next_plan_code        text REFERENCES subscription_plans (code),
    -- Renewal retries: how many charges of the due period failed, and when to try again.
    failed_attempts       integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    next_attempt_at       timestamptz,
    -- The admin who let the platform pay the first month (a platform expense in the ledger).
    first_period_granted_by uuid REFERENCES users (id),
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    ended_at              timestamptz,
    CHECK ((current_period_start IS NULL) = (current_period_end IS NULL)),
    CHECK (status <> 'active' OR access_until IS NOT NULL)
);
CREATE UNIQUE INDEX subscriptions_live_idx ON subscriptions (user_id, kind)
    WHERE status IN ('pending', 'active', 'past_due');
CREATE INDEX subscriptions_due_idx ON subscriptions (current_period_end)
    WHERE status IN ('pending', 'active', 'past_due');

-- Each charge we ask the provider for, keyed by what it pays for: (subscription, period, purpose)
-- is UNIQUE, so a renewal job run twice asks once; the provider key is the same string, so the
-- provider charges a period at most once however often a retry asks.
CREATE TABLE subscription_charges (
    id               uuid PRIMARY KEY,
    subscription_id  uuid NOT NULL REFERENCES subscriptions (id),
    period_number    integer NOT NULL CHECK (period_number > 0),
    purpose          text NOT NULL CHECK (purpose ~ '^(period|upgrade:[a-z0-9_]+|granted)$'),
    plan_code        text NOT NULL REFERENCES subscription_plans (code),
    amount_fen       bigint NOT NULL CHECK (amount_fen > 0),
    status           text NOT NULL CHECK (status IN ('pending', 'submitted', 'succeeded', 'failed')),
    provider_charge_id text,
    attempts         integer NOT NULL DEFAULT 0,
    failure_reason   text,
    created_at       timestamptz NOT NULL,
    decided_at       timestamptz,
    UNIQUE (subscription_id, period_number, purpose)
);

-- Whether a user's membership benefits hold at `at` (one definition for listings, search,
-- recommendations and the support queue).
CREATE FUNCTION lago_is_member(uid uuid, at timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM subscriptions s
        WHERE s.user_id = uid AND s.kind = 'membership'
          AND s.status IN ('active', 'past_due') AND s.access_until > at)
$$;

-- Subscription money: revenue from subscribers, and what the platform pays in a seller's place
-- (a first month it grants). The kind list is extended in place, as 028 does, so every kind
-- another migration added (coupons', points', money out's) stays whatever order they ran in.
DO $$
DECLARE
    def text;
BEGIN
    SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint
    WHERE conname = 'ledger_accounts_kind_check' AND conrelid = 'ledger_accounts'::regclass;
    IF position('platform_subscription_revenue' IN def) = 0 THEN
        ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
        EXECUTE 'ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check '
            || regexp_replace(def, 'ARRAY\[', 'ARRAY[''platform_subscription_revenue''::text, '
                              || '''platform_subscription_expense''::text, ');
    END IF;
END $$;

-- The sandbox provider's agreements and the charges made against them (its own "database").
CREATE TABLE sandbox_agreements (
    id               text PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    client_secret    text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'signed', 'revoked')),
    -- Standing in for the payer's funds: false makes the next charges fail (card declined).
    funds_ok         boolean NOT NULL DEFAULT true,
    max_amount_fen   bigint NOT NULL CHECK (max_amount_fen > 0),
    metadata         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL,
    signed_at        timestamptz
);

CREATE TABLE sandbox_agreement_charges (
    id               text PRIMARY KEY,
    idempotency_key  text NOT NULL,
    attempt          integer NOT NULL CHECK (attempt > 0),
    agreement_id     text NOT NULL REFERENCES sandbox_agreements (id),
    amount_fen       bigint NOT NULL CHECK (amount_fen > 0),
    status           text NOT NULL CHECK (status IN ('succeeded', 'failed')),
    metadata         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL,
    UNIQUE (idempotency_key, attempt)
);
-- The provider charges a key at most once: one succeeded attempt per key.
CREATE UNIQUE INDEX sandbox_agreement_charges_once_idx
    ON sandbox_agreement_charges (idempotency_key) WHERE status = 'succeeded';

-- Sandbox events are delivered to the payments webhook or the virtual-number callback URL.
ALTER TABLE sandbox_events ADD COLUMN target text NOT NULL DEFAULT 'payments'
    CHECK (target IN ('payments', 'virtual_numbers'));

-- Virtual numbers (虚拟号): the sandbox's bindings (its pool is a range of numbers in code).
CREATE TABLE sandbox_vn_bindings (
    id               text PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    number           text NOT NULL,
    party_a          text NOT NULL,
    party_b          text NOT NULL,
    expires_at       timestamptz NOT NULL,
    unbound_at       timestamptz,
    created_at       timestamptz NOT NULL
);
CREATE INDEX sandbox_vn_bindings_number_idx ON sandbox_vn_bindings (number, expires_at);

CREATE TABLE sandbox_vn_calls (
    id           text PRIMARY KEY,
    binding_id   text NOT NULL REFERENCES sandbox_vn_bindings (id),
    caller       text NOT NULL,
    duration_s   integer NOT NULL CHECK (duration_s >= 0),
    started_at   timestamptz NOT NULL
);

-- Our side: which buyer may reach which seller through which number, until when.
CREATE TABLE virtual_number_bindings (
    id                  uuid PRIMARY KEY,
    provider            text NOT NULL,
    provider_binding_id text NOT NULL UNIQUE,
    number              text NOT NULL,
    listing_id          uuid NOT NULL REFERENCES listings (id),
    seller_id           uuid NOT NULL REFERENCES users (id),
    buyer_id            uuid NOT NULL REFERENCES users (id),
    subscription_id     uuid NOT NULL REFERENCES subscriptions (id),
    usage_month         text NOT NULL CHECK (usage_month ~ '^\d{4}-\d{2}$'),
    expires_at          timestamptz NOT NULL,
    unbound_at          timestamptz,
    created_at          timestamptz NOT NULL
);
CREATE INDEX virtual_number_bindings_pair_idx
    ON virtual_number_bindings (seller_id, buyer_id, expires_at);
CREATE INDEX virtual_number_bindings_open_idx ON virtual_number_bindings (expires_at)
    WHERE unbound_at IS NULL;

-- The distinct buyers a seller's number reached in a month (China time): what the basic plan
-- counts. The PK makes a buyer count once however many bindings they get.
CREATE TABLE virtual_number_buyers (
    seller_id    uuid NOT NULL REFERENCES users (id),
    usage_month  text NOT NULL,
    buyer_id     uuid NOT NULL REFERENCES users (id),
    first_at     timestamptz NOT NULL,
    PRIMARY KEY (seller_id, usage_month, buyer_id)
);

-- Call records, as the provider's signed callbacks report them: applied once per provider call.
CREATE TABLE virtual_number_calls (
    id                uuid PRIMARY KEY,
    provider          text NOT NULL,
    provider_call_id  text NOT NULL,
    binding_id        uuid REFERENCES virtual_number_bindings (id),
    caller            text NOT NULL,
    duration_s        integer NOT NULL CHECK (duration_s >= 0),
    started_at        timestamptz NOT NULL,
    received_at       timestamptz NOT NULL,
    UNIQUE (provider, provider_call_id)
);
