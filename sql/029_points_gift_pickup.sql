-- A gift redeemed for points is handed over at the locker room or the merchant counter by someone
-- who checks its pickup code: property staff of a community the resident lives in, or an admin.
ALTER TABLE points_redemptions
    ADD COLUMN picked_up_at timestamptz,
    ADD COLUMN handed_over_by uuid REFERENCES users (id),
    ADD CONSTRAINT points_redemptions_picked_up_check
        CHECK ((status = 'picked_up') = (picked_up_at IS NOT NULL AND handed_over_by IS NOT NULL));
