-- Group-buy joins in one round trip.
--
-- The channel actor serves joins in batches and writes each batch before anyone is answered.
-- As separate statements (BEGIN, the fencing check, the group locks, the members' seats held,
-- the stock, the insert, COMMIT) a batch cost seven round trips, and under a rush each of them
-- waited behind the real-time node's busy event loop: the actor spent most of its time waiting.
-- This function does the same work, in the same lock order, as one statement.
--
-- Arguments are aligned arrays, one element per seat the actor wants, in arrival order. The result
-- is NULL when p_epoch is not the actor's current epoch (a newer owner exists: nothing written),
-- otherwise one element per seat: NULL when the seat was taken, else why not —
--   group_ended    the group is no longer open or succeeded;
--   limit_reached  the member holds per_user_limit active seats of the campaign (every community,
--                  earlier seats of this batch included);
--   sold_out       the campaign's stock ran out (seats are granted in arrival order).
-- The constraints of 011_group_buys.sql still guard everything: a seat number the actor got wrong
-- fails the whole statement with a unique violation, and the actor reloads.

CREATE FUNCTION group_buy_take_seats(
    p_kind text,
    p_key text,
    p_epoch bigint,
    p_seat_ids uuid[],
    p_group_ids uuid[],
    p_user_ids uuid[],
    p_seat_nos integer[],
    p_reserved_until timestamptz[],
    p_now timestamptz
) RETURNS text[]
LANGUAGE plpgsql
AS $$
DECLARE
    n        integer := coalesce(cardinality(p_seat_ids), 0);
    codes    text[];
    v_epoch  bigint;
    v_ok     integer[];   -- seats past the group and limit checks, in arrival order
    v_camp   uuid[];      -- their campaigns
    v_denied integer[];   -- seats over a member's limit
    r        record;
    v_grant  integer;
    v_seen   integer;
    k        integer;
    v_group  uuid;
BEGIN
    IF n = 0 THEN
        RETURN '{}'::text[];
    END IF;
    IF cardinality(p_group_ids) <> n OR cardinality(p_user_ids) <> n
       OR cardinality(p_seat_nos) <> n OR cardinality(p_reserved_until) <> n THEN
        RAISE EXCEPTION 'group_buy_take_seats: arrays of different lengths';
    END IF;

    -- Fencing, as ActorContext.fenced_transaction does: a newer claim waits for us or fails us.
    SELECT a.epoch INTO v_epoch FROM actor_epochs a
    WHERE a.kind = p_kind AND a.key = p_key FOR SHARE;
    IF v_epoch IS DISTINCT FROM p_epoch THEN
        RETURN NULL;
    END IF;

    -- Lock order of every group-buy transaction (lago_core/groupbuys/store.py): the groups in id
    -- order, then seats, then the campaign row.
    FOREACH v_group IN ARRAY (SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(p_group_ids) x)
    LOOP
        PERFORM 1 FROM group_buys g WHERE g.id = v_group FOR SHARE;
    END LOOP;

    -- Every lookup below is by key, written so that it stays one (LATERAL ... LIMIT 1, a
    -- correlated count): group-buy tables fill from empty in a rush, faster than autovacuum
    -- refreshes their statistics, and with the statistics of a nearly empty table the planner
    -- joined these few hundred seats by scanning every open group and every seat (measured:
    -- 35 ms for 50 seats among 25,000, against about 1 ms by key).

    codes := array_fill('group_ended'::text, ARRAY[n]);
    WITH input AS (
        SELECT t.i::integer AS i, t.group_id, t.user_id
        FROM unnest(p_group_ids, p_user_ids) WITH ORDINALITY AS t(group_id, user_id, i)
    ), live AS (
        SELECT input.i, input.user_id, g.campaign_id, c.per_user_limit
        FROM input
        CROSS JOIN LATERAL (
            SELECT g.campaign_id FROM group_buys g
            WHERE g.id = input.group_id AND g.status IN ('open', 'succeeded') LIMIT 1
        ) g
        CROSS JOIN LATERAL (
            SELECT c.per_user_limit FROM group_buy_campaigns c WHERE c.id = g.campaign_id LIMIT 1
        ) c
    ), held AS (
        SELECT w.campaign_id, w.user_id,
               (SELECT count(*) FROM group_buy_seats s
                WHERE s.campaign_id = w.campaign_id AND s.user_id = w.user_id
                  AND s.status IN ('reserved', 'paid')) AS n
        FROM (SELECT DISTINCT campaign_id, user_id FROM live) w
    ), ranked AS (
        SELECT live.i, live.campaign_id,
               coalesce(held.n, 0)
                 + row_number() OVER (PARTITION BY live.campaign_id, live.user_id ORDER BY live.i)
                 <= live.per_user_limit AS allowed
        FROM live
        LEFT JOIN held ON held.campaign_id = live.campaign_id AND held.user_id = live.user_id
    )
    SELECT coalesce(array_agg(ranked.i ORDER BY ranked.i) FILTER (WHERE allowed), '{}'),
           coalesce(array_agg(ranked.campaign_id ORDER BY ranked.i) FILTER (WHERE allowed), '{}'),
           coalesce(array_agg(ranked.i) FILTER (WHERE NOT allowed), '{}')
    INTO v_ok, v_camp, v_denied
    FROM ranked;

    FOREACH k IN ARRAY v_ok LOOP
        codes[k] := NULL;
    END LOOP;
    FOREACH k IN ARRAY v_denied LOOP
        codes[k] := 'limit_reached';
    END LOOP;

    -- Stock, per campaign in id order: as many of the wanted seats as it has left, in arrival order.
    FOR r IN
        SELECT c AS campaign_id, count(*)::integer AS wanted
        FROM unnest(v_camp) AS c GROUP BY c ORDER BY c
    LOOP
        SELECT CASE WHEN c.stock IS NULL THEN r.wanted
                    ELSE greatest(0, least(r.wanted, c.stock - c.seats_taken)) END
        INTO v_grant
        FROM group_buy_campaigns c WHERE c.id = r.campaign_id FOR UPDATE;
        IF v_grant > 0 THEN
            UPDATE group_buy_campaigns SET seats_taken = seats_taken + v_grant
            WHERE id = r.campaign_id;
        END IF;
        IF v_grant < r.wanted THEN
            v_seen := 0;
            FOR k IN 1 .. cardinality(v_ok) LOOP
                IF v_camp[k] = r.campaign_id THEN
                    v_seen := v_seen + 1;
                    IF v_seen > v_grant THEN
                        codes[v_ok[k]] := 'sold_out';
                    END IF;
                END IF;
            END LOOP;
        END IF;
    END LOOP;

    INSERT INTO group_buy_seats
        (id, group_id, max_members, campaign_id, user_id, seat_no, reserved_until, joined_at)
    SELECT t.seat_id, t.group_id, g.max_members, g.campaign_id, t.user_id, t.seat_no,
           t.reserved_until, p_now
    FROM unnest(p_seat_ids, p_group_ids, p_user_ids, p_seat_nos, p_reserved_until)
           WITH ORDINALITY AS t(seat_id, group_id, user_id, seat_no, reserved_until, i)
    CROSS JOIN LATERAL (
        SELECT g.max_members, g.campaign_id FROM group_buys g WHERE g.id = t.group_id LIMIT 1
    ) g
    WHERE codes[t.i::integer] IS NULL;

    RETURN codes;
END;
$$;
