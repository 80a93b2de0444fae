"""Checks of the points invariants, shared by the points tests."""

from __future__ import annotations

import asyncpg

from lago_core.points import RULES


async def assert_points_sound(pool: asyncpg.Pool) -> None:
    """Every invariant of docs/points.md, over every user, straight from the tables."""
    accounts = await pool.fetch(
        """SELECT a.user_id, a.balance,
                  (SELECT COALESCE(sum(remaining), 0) FROM points_lots l
                   WHERE l.user_id = a.user_id) AS lots,
                  (SELECT COALESCE(sum(delta), 0) FROM points_journal j
                   WHERE j.user_id = a.user_id) AS journal
           FROM points_accounts a"""
    )
    for row in accounts:
        assert row["balance"] >= 0, dict(row)
        # Balance equals the points left in its lots (retired lots hold none) and the journal.
        assert row["balance"] == row["lots"] == row["journal"], dict(row)
    # Each lot's remaining is its amount less what debits drew from it.
    bad_lots = await pool.fetch(
        """SELECT l.id, l.amount, l.remaining, COALESCE(sum(d.amount), 0) AS drawn
           FROM points_lots l LEFT JOIN points_draws d ON d.lot_id = l.id
           GROUP BY l.id HAVING l.amount - COALESCE(sum(d.amount), 0) <> l.remaining"""
    )
    assert bad_lots == [], [dict(r) for r in bad_lots]
    # Every debit drew exactly its points from lots.
    bad_debits = await pool.fetch(
        """SELECT j.id, j.delta, COALESCE(sum(d.amount), 0) AS drawn FROM points_journal j
           LEFT JOIN points_draws d ON d.entry_id = j.id WHERE j.kind <> 'earn'
           GROUP BY j.id HAVING -j.delta <> COALESCE(sum(d.amount), 0)"""
    )
    assert bad_debits == [], [dict(r) for r in bad_debits]
    # No rule's daily cap is exceeded, and the day counters agree with the journal.
    per_day = await pool.fetch(
        """SELECT user_id, rule, local_day, sum(delta) AS earned FROM points_journal
           WHERE kind = 'earn' GROUP BY user_id, rule, local_day"""
    )
    counters = {
        (r["user_id"], r["rule"], r["local_day"]): r["earned"]
        for r in await pool.fetch("SELECT * FROM points_daily")
    }
    for row in per_day:
        cap = RULES[row["rule"]].daily_cap  # type: ignore[index]
        if cap is not None:
            assert row["earned"] <= cap, dict(row)
            assert (
                counters.get((row["user_id"], row["rule"], row["local_day"]), 0) == row["earned"]
            ), dict(row)
    # A lot's expiry is a year after it was earned; no lot outlives it with points.
    assert not await pool.fetchval(
        """SELECT count(*) FROM points_lots
           WHERE expires_at <> earned_at + interval '1 year'"""
    )
