-- Money out (issue 19 items 4–6): merchants' available balance and withdrawals to an encrypted
-- bank account, failed payouts returned through the ledger, property companies' monthly share
-- payouts. docs/money.md "Available balance and withdrawals", "Property statements".

-- Settlement makes a merchant's money available (merchant_payable → merchant_available); the
-- merchant withdraws from it. The kind list is extended in place (not restated) so that another
-- migration adding kinds of its own keeps them whatever order the two were written in.
DO $$
DECLARE
    def text;
BEGIN
    SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint
    WHERE conname = 'ledger_accounts_kind_check' AND conrelid = 'ledger_accounts'::regclass;
    IF position('merchant_available' IN def) = 0 THEN
        ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
        EXECUTE 'ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check '
            || regexp_replace(def, 'ARRAY\[', 'ARRAY[''merchant_available''::text, ');
    END IF;
END $$;

-- A payout may fail at the provider (a closed account): its money goes back to the account it
-- came from, which is the payee's payable unless source_kind names another (merchant_available
-- for withdrawals). destination names where it goes without holding it ("bank_account:<id>":
-- the number is decrypted only when the payout is submitted).
ALTER TABLE payouts DROP CONSTRAINT payouts_status_check;
ALTER TABLE payouts ADD CONSTRAINT payouts_status_check
    CHECK (status IN ('pending', 'paid', 'failed'));
ALTER TABLE payouts ADD COLUMN source_kind text;
ALTER TABLE payouts ADD COLUMN destination text CHECK (char_length(destination) <= 200);
ALTER TABLE payouts ADD COLUMN failed_at timestamptz;
ALTER TABLE payouts ADD COLUMN failure_code text CHECK (char_length(failure_code) <= 100);

-- The sandbox's own record: a failed payout does not leave its balance.
ALTER TABLE sandbox_payouts ADD COLUMN status text NOT NULL DEFAULT 'paid'
    CHECK (status IN ('paid', 'failed'));

-- One bank account per merchant, encrypted (AES-256-GCM) under the key named by key_id
-- (LAGO_BANK_KEY lists the keys; several are accepted so keys can rotate). The merchant id is the
-- associated data: a ciphertext copied to another merchant's row does not decrypt.
CREATE TABLE merchant_bank_accounts (
    id           uuid PRIMARY KEY,
    merchant_id  uuid NOT NULL UNIQUE REFERENCES merchants (id) ON DELETE CASCADE,
    key_id       text NOT NULL CHECK (char_length(key_id) BETWEEN 1 AND 32),
    nonce        bytea NOT NULL CHECK (octet_length(nonce) = 12),
    ciphertext   bytea NOT NULL CHECK (octet_length(ciphertext) <= 4096),
    updated_by   uuid NOT NULL REFERENCES users (id),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- A merchant's withdrawal (提现): requested → paid | failed, one payout each.
CREATE TABLE withdrawals (
    id              uuid PRIMARY KEY,
    merchant_id     uuid NOT NULL REFERENCES merchants (id),
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    status          text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'paid', 'failed')),
    bank_account_id uuid NOT NULL REFERENCES merchant_bank_accounts (id),
    -- The account's last four digits when it was requested, for the history (not secret).
    account_last4   text NOT NULL CHECK (account_last4 ~ '^[0-9]{1,4}$'),
    payout_id       uuid NOT NULL UNIQUE REFERENCES payouts (id),
    requested_by    uuid NOT NULL REFERENCES users (id),
    -- The business day (Asia/Shanghai) it counts against for the daily limit.
    day             date NOT NULL,
    failure_code    text,
    created_at      timestamptz NOT NULL,
    paid_at         timestamptz,
    failed_at       timestamptz
);
CREATE INDEX withdrawals_merchant_idx ON withdrawals (merchant_id, created_at DESC, id);
CREATE INDEX withdrawals_day_idx ON withdrawals (merchant_id, day) WHERE status <> 'failed';

-- A property company's share of one month's settled orders, paid out once (company, month).
CREATE TABLE property_payouts (
    company_id  uuid NOT NULL REFERENCES property_companies (id),
    month       date NOT NULL CHECK (extract(day FROM month) = 1),
    amount_fen  bigint NOT NULL CHECK (amount_fen > 0),
    payout_id   uuid NOT NULL UNIQUE REFERENCES payouts (id),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (company_id, month)
);

-- The community of the trade, kept on the payment for the property company's statement (its
-- share is per community); NULL for payments made before this migration.
ALTER TABLE payments ADD COLUMN community_id uuid REFERENCES communities (id);
