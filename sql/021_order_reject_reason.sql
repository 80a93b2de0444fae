-- Why the seller side refused a paid order or refunded it (POST /orders/{id}/reject?reason=…):
-- the buyer reads it on the order. NULL when no reason was given (a granted refund request needs
-- none) and on orders that were never rejected.
ALTER TABLE orders ADD COLUMN reject_reason text
    CHECK (reject_reason IS NULL OR char_length(reject_reason) BETWEEN 1 AND 500);
