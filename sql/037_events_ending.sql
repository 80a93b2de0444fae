-- The events job (workers/events.py) finishes published events once their check-in door has
-- closed; it looks for them by end time among the published ones only.
CREATE INDEX events_published_ends_idx ON events (ends_at) WHERE status = 'published';
