-- A captured payment its reference could not accept (wrong payee, amount or payer; the order
-- already paid, cancelled or expired; the seat released or already paid): the capture records why,
-- and the same transaction refunds it in full (docs/money.md, "Payments for a reference").
ALTER TABLE payments ADD COLUMN rejected_reason text;
ALTER TABLE payments ADD COLUMN rejected_at timestamptz;
ALTER TABLE payments ADD CONSTRAINT payments_rejected_ck
    CHECK ((rejected_reason IS NULL) = (rejected_at IS NULL));
