-- Listings: toys and game consoles offered for sale, rent or consignment by a resident or a merchant.
-- Text search is a substring match (ILIKE) over search_text: Chinese has no word boundaries for
-- full-text search to split on. A pg_trgm GIN index would speed it up, but the embedded PostgreSQL
-- used on machines without one ships no contrib extensions, so the index is left to a deployment
-- migration (CREATE INDEX ... USING gin (search_text gin_trgm_ops)) where pg_trgm exists.

CREATE TABLE listings (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seller_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Set when published "as merchant X": the merchant's owner and staff manage it, and it is
    -- visible where the merchant serves rather than where the seller lives.
    merchant_id       uuid REFERENCES merchants (id) ON DELETE CASCADE,
    title             text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 60),
    description       text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    category          text NOT NULL CHECK (category IN (
                          'toy', 'building_blocks', 'game_console', 'video_game', 'doll', 'plush',
                          'figure', 'outdoor', 'educational', 'other')),
    brand             text CHECK (char_length(brand) BETWEEN 1 AND 50),
    condition         text NOT NULL CHECK (condition IN ('new', 'like_new', 'good', 'fair', 'for_parts')),
    kind              text NOT NULL CHECK (kind IN ('sale', 'rent', 'consignment')),
    -- Money is integer fen (分) only. Each kind has exactly its own fields; comparisons are spelled
    -- with IS NOT NULL because a CHECK that evaluates to NULL passes.
    price_fen         bigint,
    rent_per_day_fen  bigint,
    deposit_fen       bigint,
    images            text[] NOT NULL DEFAULT '{}' CHECK (cardinality(images) <= 9),
    status            text NOT NULL DEFAULT 'active'
                          CHECK (status IN ('active', 'withdrawn', 'sold', 'rented')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- What the price filter compares: the price, or the daily rent of a rental.
    list_price_fen    bigint GENERATED ALWAYS AS (COALESCE(price_fen, rent_per_day_fen)) STORED,
    search_text       text GENERATED ALWAYS AS (
                          title || ' ' || COALESCE(brand, '') || ' ' || description) STORED,
    CONSTRAINT listings_money_by_kind CHECK (
        (kind IN ('sale', 'consignment')
            AND price_fen IS NOT NULL AND price_fen > 0
            AND rent_per_day_fen IS NULL AND deposit_fen IS NULL)
        OR (kind = 'rent'
            AND price_fen IS NULL
            AND rent_per_day_fen IS NOT NULL AND rent_per_day_fen > 0
            AND deposit_fen IS NOT NULL AND deposit_fen >= 0)
    )
);
CREATE INDEX listings_seller_idx ON listings (seller_id, created_at DESC, id DESC);
CREATE INDEX listings_merchant_idx ON listings (merchant_id, created_at DESC, id DESC)
    WHERE merchant_id IS NOT NULL;
CREATE INDEX listings_active_idx ON listings (created_at DESC, id DESC) WHERE status = 'active';
