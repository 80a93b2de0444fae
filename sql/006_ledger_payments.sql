-- Money: a double-entry ledger, payments through a provider, idempotency records, and the tables
-- of the local sandbox provider (which stand in for a real provider's own database).
-- All amounts are integer fen (分). docs/money.md explains the accounts and the flows.

-- --- ledger ----------------------------------------------------------------------------------

-- One account per (kind, owner). Platform accounts have the nil UUID as owner (a NULL would not
-- take part in the UNIQUE constraint on PostgreSQL 15 without NULLS NOT DISTINCT).
CREATE TABLE ledger_accounts (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind             text NOT NULL CHECK (kind IN (
                         'payments_clearing', 'deposit_escrow', 'seller_payable',
                         'merchant_payable', 'platform_commission_revenue',
                         'property_revenue_share', 'refunds', 'payouts_in_transit')),
    owner_id         uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    -- Which side increases the balance: assets (clearing) are debit-normal, what we owe
    -- (escrow, payables, refunds, payouts in transit) and revenue are credit-normal.
    normal           text NOT NULL CHECK (normal IN ('debit', 'credit')),
    may_go_negative  boolean NOT NULL DEFAULT false,
    -- A cache of the sum of the account's entries, kept by the trigger below in the same
    -- transaction; version counts the entries applied, for readers that compare snapshots.
    balance_fen      bigint NOT NULL DEFAULT 0,
    version          bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, owner_id),
    CONSTRAINT ledger_accounts_non_negative CHECK (may_go_negative OR balance_fen >= 0)
);

-- A transaction posts once: `key` names the effect (e.g. payment:<id>:capture), so a retried
-- job that posts again finds its own earlier transaction instead of moving money twice.
CREATE TABLE ledger_transactions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key          text NOT NULL UNIQUE CHECK (char_length(key) BETWEEN 1 AND 200),
    description  text NOT NULL CHECK (char_length(description) <= 500),
    -- A correction is a new transaction with the opposite entries; each is reversed at most once.
    reverses     uuid UNIQUE REFERENCES ledger_transactions (id),
    created_at   timestamptz NOT NULL
);

-- Signed amounts: a debit is positive, a credit negative; one transaction's entries sum to zero.
CREATE TABLE ledger_entries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  uuid NOT NULL REFERENCES ledger_transactions (id),
    account_id      uuid NOT NULL REFERENCES ledger_accounts (id),
    amount_fen      bigint NOT NULL CHECK (amount_fen <> 0),
    UNIQUE (transaction_id, account_id)
);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account_id, id);

CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege', HINT = 'post a reversing transaction instead';
END $$;

CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

-- Checked at commit (deferred), when all entries of the transaction are in: at least two
-- entries and a zero sum. The code checks the same before inserting; this is the guarantee.
CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    txn    uuid;
    total  numeric;
    n      bigint;
BEGIN
    -- Each branch is planned only when taken: NEW has different columns on the two tables.
    IF TG_TABLE_NAME = 'ledger_entries' THEN
        txn := NEW.transaction_id;
    ELSE
        txn := NEW.id;
    END IF;
    SELECT COALESCE(sum(amount_fen), 0), count(*) INTO total, n
      FROM ledger_entries WHERE transaction_id = txn;
    IF n < 2 OR total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance: % entries, sum %', txn, n, total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transaction_balanced';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_transactions_balanced AFTER INSERT ON ledger_transactions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();

-- The cached balance moves with every entry, in the same transaction; the CHECK on
-- ledger_accounts then refuses an entry that would overdraw an account that must not go negative.
CREATE FUNCTION ledger_apply_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ledger_accounts
       SET balance_fen = balance_fen
                         + CASE normal WHEN 'debit' THEN NEW.amount_fen ELSE -NEW.amount_fen END,
           version = version + 1
     WHERE id = NEW.account_id;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_entries_apply AFTER INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_apply_entry();

-- --- idempotency records -----------------------------------------------------------------------

-- The row is inserted when a request starts and filled in the same transaction, so others only
-- ever see finished rows; a concurrent duplicate waits on the primary key until the first commits.
CREATE TABLE idempotency_keys (
    caller_id     uuid NOT NULL,
    key           text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 100),
    request_hash  text NOT NULL,
    status        integer,
    response      jsonb,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (caller_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- --- payments ----------------------------------------------------------------------------------

CREATE TABLE payments (
    id                     uuid PRIMARY KEY,
    payer_id               uuid NOT NULL REFERENCES users (id),
    -- What is paid for, generically: the orders work uses ('order', <order id>).
    reference_type         text NOT NULL CHECK (reference_type ~ '^[a-z][a-z_]{0,29}$'),
    reference_id           uuid NOT NULL,
    description            text NOT NULL DEFAULT '' CHECK (char_length(description) <= 200),
    currency               text NOT NULL DEFAULT 'CNY' CHECK (currency = 'CNY'),
    -- The price (amount_fen) goes to the payee minus commission and the property share; the
    -- deposit (押金) is held in escrow and released later. The payer pays both together.
    amount_fen             bigint NOT NULL CHECK (amount_fen > 0),
    deposit_fen            bigint NOT NULL DEFAULT 0 CHECK (deposit_fen >= 0),
    payee_kind             text NOT NULL CHECK (payee_kind IN ('user', 'merchant')),
    payee_id               uuid NOT NULL,
    commission_fen         bigint NOT NULL CHECK (commission_fen >= 0),
    property_company_id    uuid REFERENCES property_companies (id),
    property_share_fen     bigint NOT NULL DEFAULT 0 CHECK (property_share_fen >= 0),
    provider               text NOT NULL,
    provider_intent_id     text,
    client_secret          text,
    status                 text NOT NULL DEFAULT 'requires_payment'
                               CHECK (status IN ('requires_payment', 'captured', 'failed')),
    -- Price refunded so far (requested, whether or not the provider has paid it out yet), split
    -- by who gives it back; never more than each part received (checked below).
    refunded_fen           bigint NOT NULL DEFAULT 0,
    refunded_payee_fen     bigint NOT NULL DEFAULT 0,
    refunded_commission_fen bigint NOT NULL DEFAULT 0,
    refunded_property_fen  bigint NOT NULL DEFAULT 0,
    deposit_status         text NOT NULL DEFAULT 'none'
                               CHECK (deposit_status IN ('none', 'held', 'released')),
    deposit_withheld_fen   bigint NOT NULL DEFAULT 0,
    expires_at             timestamptz NOT NULL,
    captured_at            timestamptz,
    created_at             timestamptz NOT NULL,
    UNIQUE (provider, provider_intent_id),
    CHECK (commission_fen + property_share_fen <= amount_fen),
    CHECK (property_share_fen = 0 OR property_company_id IS NOT NULL),
    CHECK (refunded_fen = refunded_payee_fen + refunded_commission_fen + refunded_property_fen),
    CHECK (refunded_fen <= amount_fen),
    CHECK (refunded_payee_fen <= amount_fen - commission_fen - property_share_fen),
    CHECK (refunded_commission_fen <= commission_fen),
    CHECK (refunded_property_fen <= property_share_fen),
    CHECK (deposit_withheld_fen BETWEEN 0 AND deposit_fen)
);
CREATE INDEX payments_payer_idx ON payments (payer_id, created_at DESC);
CREATE INDEX payments_reference_idx ON payments (reference_type, reference_id);

-- Money going back to a payer: part of the price ('price') or the released deposit ('deposit').
CREATE TABLE refunds (
    id                  uuid PRIMARY KEY,
    payment_id          uuid NOT NULL REFERENCES payments (id),
    kind                text NOT NULL CHECK (kind IN ('price', 'deposit')),
    amount_fen          bigint NOT NULL CHECK (amount_fen > 0),
    reason              text NOT NULL DEFAULT '' CHECK (char_length(reason) <= 200),
    status              text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded')),
    provider_refund_id  text UNIQUE,
    requested_by        uuid REFERENCES users (id),
    created_at          timestamptz NOT NULL,
    succeeded_at        timestamptz
);
CREATE INDEX refunds_payment_idx ON refunds (payment_id, created_at);
CREATE INDEX refunds_pending_idx ON refunds (created_at) WHERE status = 'pending';
-- One deposit release per payment.
CREATE UNIQUE INDEX refunds_one_deposit ON refunds (payment_id) WHERE kind = 'deposit';

-- Money paid out to a party (a settlement); `key` is the caller's idempotency key.
CREATE TABLE payouts (
    id                  uuid PRIMARY KEY,
    key                 text NOT NULL UNIQUE CHECK (char_length(key) BETWEEN 1 AND 200),
    payee_kind          text NOT NULL CHECK (payee_kind IN ('user', 'merchant', 'property_company')),
    payee_id            uuid NOT NULL,
    amount_fen          bigint NOT NULL CHECK (amount_fen > 0),
    status              text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid')),
    provider_payout_id  text UNIQUE,
    created_at          timestamptz NOT NULL,
    paid_at             timestamptz
);
CREATE INDEX payouts_pending_idx ON payouts (created_at) WHERE status = 'pending';

-- Provider webhooks as received: one row per provider event id, so each is applied once.
CREATE TABLE payment_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider     text NOT NULL,
    event_id     text NOT NULL CHECK (char_length(event_id) BETWEEN 1 AND 100),
    type         text NOT NULL,
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL,
    applied_at   timestamptz,
    outcome      text,
    UNIQUE (provider, event_id)
);
CREATE INDEX payment_events_unapplied_idx ON payment_events (received_at) WHERE applied_at IS NULL;

-- --- the sandbox provider's own database ---------------------------------------------------------

CREATE TABLE sandbox_intents (
    id               text PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    amount_fen       bigint NOT NULL CHECK (amount_fen > 0),
    currency         text NOT NULL,
    client_secret    text NOT NULL,
    status           text NOT NULL CHECK (status IN ('requires_payment', 'succeeded', 'failed', 'expired')),
    metadata         jsonb NOT NULL DEFAULT '{}',
    expires_at       timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    paid_at          timestamptz
);

CREATE TABLE sandbox_refunds (
    id               text PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    intent_id        text NOT NULL REFERENCES sandbox_intents (id),
    amount_fen       bigint NOT NULL CHECK (amount_fen > 0),
    metadata         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL
);
CREATE INDEX sandbox_refunds_intent_idx ON sandbox_refunds (intent_id);

CREATE TABLE sandbox_payouts (
    id               text PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    destination      text NOT NULL,
    amount_fen       bigint NOT NULL CHECK (amount_fen > 0),
    metadata         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL
);

CREATE TABLE sandbox_events (
    id            text PRIMARY KEY,
    type          text NOT NULL,
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    delivered_at  timestamptz,
    attempts      integer NOT NULL DEFAULT 0
);
