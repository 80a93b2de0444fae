-- Search by meaning (docs/ai.md, "Search by meaning"): each listing's embedding, the model that
-- made it and its dimension, and the hash of the text it was made from (title, brand, category,
-- description), so a listing is re-embedded only when that text or the model changes and a rerun
-- of the job changes nothing. The vector is float32 little-endian, L2-normalised; `tokens` are
-- the text's words (jieba) for the lexical side. `seq` grows with every change: search processes
-- keep the vectors in memory and read only rows past the last `seq` they saw.
CREATE SEQUENCE listing_embeddings_seq;

CREATE TABLE listing_embeddings (
    listing_id   uuid PRIMARY KEY REFERENCES listings (id) ON DELETE CASCADE,
    model        text NOT NULL CHECK (char_length(model) BETWEEN 1 AND 200),
    dim          integer NOT NULL CHECK (dim BETWEEN 1 AND 8192),
    content_hash text NOT NULL CHECK (char_length(content_hash) = 32),
    vector       bytea NOT NULL,
    tokens       text[] NOT NULL DEFAULT '{}',
    seq          bigint NOT NULL DEFAULT nextval('listing_embeddings_seq'),
    embedded_at  timestamptz NOT NULL,
    CONSTRAINT listing_embeddings_length CHECK (octet_length(vector) = dim * 4)
);
CREATE INDEX listing_embeddings_seq_idx ON listing_embeddings (seq);

-- What changed since a search process last looked: every insert, and every update of what is
-- embedded or of the status, takes the next `change_seq`. A search reads the sequence (no table
-- scan) and, if it moved, only the listings past its mark (an index range) — so a new or edited
-- listing is embedded before the next search that could find it, without scanning 100,000 rows
-- per search. A transaction that commits after a later one was seen is caught by the arq sweep.
CREATE SEQUENCE listing_changes_seq;
ALTER TABLE listings ADD COLUMN change_seq bigint NOT NULL DEFAULT nextval('listing_changes_seq');
CREATE INDEX listings_change_seq_idx ON listings (change_seq);

CREATE FUNCTION lago_listing_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_seq := nextval('listing_changes_seq');
    RETURN NEW;
END
$$;
CREATE TRIGGER listings_change_seq BEFORE UPDATE ON listings FOR EACH ROW
    WHEN (OLD.title IS DISTINCT FROM NEW.title
          OR OLD.description IS DISTINCT FROM NEW.description
          OR OLD.brand IS DISTINCT FROM NEW.brand
          OR OLD.category IS DISTINCT FROM NEW.category
          OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION lago_listing_changed();
