-- The channel actor compares its live groups with these rows a slice at a time, in id order
-- (GroupBuyStore.live_group_digests): this index serves each slice by key, however many groups
-- the community has.
CREATE INDEX group_buys_live_by_id ON group_buys (community_id, id)
    WHERE status IN ('open', 'succeeded');
