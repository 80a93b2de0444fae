"""Scripted multi-turn conversations with the customer-service agent, scored turn by turn
(``lago ai-eval --conversations``, tests/test_ai_conversations.py).

Each line of the set (tests/ai_conversations.jsonl) is one conversation:

- ``orders``: the resident's own orders by a key, each with ``title``, ``mode`` (sale,
  consignment, rental), ``status``, ``price_fen`` and for rentals ``deposit_fen``, ``days`` and
  ``due_in_days`` (negative: overdue); ``role`` "seller" makes the resident its seller. The first
  is the newest.
- ``others``: orders of another resident, by key — the agent must never say anything about them.
- ``turns``: what the resident says (``say``; ``{key.id}`` and ``{key.short}`` are replaced by the
  order's id and short id) and what is expected: ``action`` (the tool the agent carried out, null
  for none), ``order`` (the key of the order in question afterwards), ``contains`` and ``absent``
  (phrases), ``handover`` (default false), ``status`` (orders' statuses afterwards, by key).

A turn is right when every expectation holds and the reply doubles no word, is not the previous
reply again, and names none of the other resident's orders. Every conversation runs on freshly
staged rows: a resident, a seller and another resident, and their orders inserted in the given
states — the agent then reads and moves them through the real services.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import asyncpg
import orjson

from lago_core.ai.dialogue import DialogueStore, _undouble
from lago_core.ai.engine import Engine
from lago_core.ai.nlu import short_id
from lago_core.ai.support import SupportService
from lago_core.settings import Settings

if TYPE_CHECKING:
    from lago_core.container import Core

__all__ = [
    "DEFAULT_SET",
    "ConversationReport",
    "load_conversations",
    "score_conversations",
    "score_in_scratch_database",
]

DEFAULT_SET = Path(__file__).parent.parent.parent / "tests" / "ai_conversations.jsonl"
_DAY = timedelta(days=1)


@dataclass
class ConversationReport:
    engine: str
    conversations: int = 0
    turns: int = 0
    right: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.right / self.turns if self.turns else 0.0

    def lines(self) -> list[str]:
        return [
            f"{self.conversations} conversations, {self.turns} turns",
            f"  turns right  {100 * self.share:.1f}%  ({self.right}/{self.turns})",
        ]


def load_conversations(path: Path) -> list[dict[str, Any]]:
    cases = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            cases.append(orjson.loads(line))
    return cases


async def _user(core: Core, name: str) -> UUID:
    # A staged account nobody can log in to: the password hash is not a hash.
    phone = f"+8613{secrets.randbelow(10**9):09d}"
    row = await core.pool.fetchrow(
        """INSERT INTO users (phone, password_hash, display_name, phone_verified_at)
           VALUES ($1, '!staged', $2, $3) RETURNING id""",
        phone,
        name,
        core.clock.now(),
    )
    assert row is not None
    return UUID(str(row["id"]))


async def _order(core: Core, spec: dict[str, Any], buyer: UUID, seller: UUID, age: int) -> UUID:
    now = core.clock.now()
    created = now - timedelta(minutes=10 * (age + 1))
    mode, status = spec.get("mode", "sale"), spec["status"]
    rental = mode == "rental"
    days = spec.get("days", 3) if rental else None
    price = spec.get("price_fen", 10_000)
    deposit = spec.get("deposit_fen", 20_000) if rental else 0
    per_day = price // days if rental and days else None
    kind = {"sale": "sale", "consignment": "consignment", "rental": "rent"}[mode]
    listing = await core.pool.fetchval(
        """INSERT INTO listings (seller_id, title, category, condition, kind, price_fen,
                                 rent_per_day_fen, deposit_fen, status)
           VALUES ($1, $2, $3, 'good', $4, $5, $6, $7, $8) RETURNING id""",
        seller,
        spec["title"],
        spec.get("category", "toy"),
        kind,
        None if rental else price,
        per_day,
        deposit if rental else None,
        "active" if status in ("created", "cancelled", "refunded") else "sold",
    )
    paid = status not in ("created", "cancelled")
    due = None
    picked = None
    if rental and status in ("picked_up", "returned", "completed"):
        # Half a day off whole days: the late fee counts started days, and the seconds the run
        # takes must not start another one.
        due = now + spec.get("due_in_days", 2) * _DAY + _DAY / 2
        picked = due - (days or 1) * _DAY
    returned = now - _DAY if rental and status in ("returned", "completed") else None
    order_id = await core.pool.fetchval(
        """INSERT INTO orders (mode, status, listing_id, buyer_id, seller_id, payee_kind,
                               payee_id, fulfilment, title, category, price_fen, deposit_fen,
                               rent_per_day_fen, days, commission_bps, created_at, updated_at,
                               paid_at, picked_up_at, due_at, returned_at, completed_at,
                               overdue_at, late_fee_fen)
           VALUES ($1, $2, $3, $4, $5, 'user', $5, 'face_to_face', $6, $7, $8, $9, $10, $11,
                   0, $12, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING id""",
        mode,
        status,
        listing,
        buyer,
        seller,
        spec["title"],
        spec.get("category", "toy"),
        per_day * days if per_day and days else price,
        deposit,
        per_day,
        days,
        created,
        created if paid else None,
        picked,
        due,
        returned,
        now if status == "completed" else None,
        due if due is not None and due < now and status == "picked_up" else None,
        spec.get("late_fee_fen"),
    )
    return UUID(str(order_id))


def _fill(text: str, ids: dict[str, UUID]) -> str:
    for key, order_id in ids.items():
        text = text.replace(f"{{{key}.id}}", str(order_id))
        text = text.replace(f"{{{key}.short}}", short_id(order_id))
    return text


async def _run(
    core: Core, support: SupportService, case: dict[str, Any], report: ConversationReport
) -> None:
    me = await _user(core, "住户")
    seller = await _user(core, "卖家")
    other = await _user(core, "邻居")
    ids: dict[str, UUID] = {}
    for age, (key, spec) in enumerate(case.get("orders", {}).items()):
        mine_sells = spec.get("role") == "seller"
        buyer, payee = (other, me) if mine_sells else (me, seller)
        ids[key] = await _order(core, spec, buyer, payee, age)
    foreign: list[str] = []
    for age, (key, spec) in enumerate(case.get("others", {}).items()):
        ids[key] = await _order(core, spec, other, seller, age)
        foreign.append(spec["title"])
    keys = {str(v): k for k, v in ids.items()}
    conversation = await support._store.create_conversation(me, core.clock.now())
    previous = ""
    for n, turn in enumerate(case["turns"]):
        text = _fill(turn["say"], ids)
        message = await support._store.add_message(
            conversation["id"], "user", me, text, core.clock.now()
        )
        assert message is not None
        reply = await support.answer(message["id"])
        body = str(reply["body"]) if reply else ""
        data = reply["data"] if reply else {}
        wrong: list[str] = []
        if "action" in turn and data.get("action") != turn["action"]:
            wrong.append(f"action {data.get('action')} != {turn['action']}")
        if "order" in turn:
            focus = (data.get("state") or {}).get("focus") or {}
            got = keys.get(str(focus.get("order_id")))
            if got != turn["order"]:
                wrong.append(f"order {got} != {turn['order']}")
        wrong += [f"missing {p!r}" for p in turn.get("contains", []) if p not in body]
        wrong += [f"has {p!r}" for p in turn.get("absent", []) if p in body]
        wrong += [f"leaks {t!r}" for t in foreign if t in body]
        if _undouble(body) != body:
            wrong.append("doubled word")
        if body and body == previous:
            wrong.append("same reply again")
        row = await support._store.conversation(conversation["id"])
        queued = row is not None and row["status"] == "queued"
        if queued != turn.get("handover", False):
            wrong.append(f"handover {queued}")
        for key, status in turn.get("status", {}).items():
            now = await core.pool.fetchval("SELECT status FROM orders WHERE id = $1", ids[key])
            if now != status:
                wrong.append(f"{key} is {now}, not {status}")
        report.turns += 1
        if wrong:
            report.misses.append(
                {
                    "conversation": case["id"],
                    "turn": n + 1,
                    "say": text,
                    "reply": body,
                    "wrong": wrong,
                }
            )
        else:
            report.right += 1
        previous = body
    await support._dialogue.forget(conversation["id"])


async def score_conversations(
    core: Core, engine: Engine, cases: list[dict[str, Any]] | None = None
) -> ConversationReport:
    """Run every scripted conversation against the agent on ``engine``; share of turns right."""
    if cases is None:
        cases = load_conversations(DEFAULT_SET)
    support = SupportService(
        core.ai.store,
        engine,
        core.orders,
        core.payments,
        core.jobs,
        core.pusher,
        core.limiter,
        core.clock,
        group_buys=core.groupbuys,
        dialogue=DialogueStore(core.redis, core.settings),
        settings=core.settings,
    )
    report = ConversationReport(engine.name)
    for case in cases:
        report.conversations += 1
        await _run(core, support, case, report)
    return report


async def score_in_scratch_database(
    settings: Settings, cases: list[dict[str, Any]]
) -> ConversationReport:
    """Score on a database made for the run and dropped after it (``lago ai-eval
    --conversations``): staged residents and orders never touch the deployment's data. The
    database role needs CREATEDB; Redis keys go under a prefix of their own."""
    from lago_core.container import build_core
    from lago_core.migrations import apply_migrations

    run = secrets.token_hex(4)
    name = f"lago_eval_{run}"
    parts = urlsplit(settings.database_url)
    dsn = urlunsplit(parts._replace(path="/" + name))
    admin = await asyncpg.connect(settings.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        await apply_migrations(dsn)
        core = await build_core(
            replace(settings, database_url=dsn, redis_prefix=f"{settings.redis_prefix}eval:{run}:")
        )
        try:
            return await score_conversations(core, core.ai.engine, cases)
        finally:
            await core.close()
    finally:
        admin = await asyncpg.connect(settings.database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
