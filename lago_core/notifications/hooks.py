"""What the other services' events tell whom (PRD 004 §2.3 消息通知, §2.4 审核结果).

Each method is a hook another service calls (registered in ``lago_core/container.py``): order
moves and ratings inside their transaction, so the notification commits with the change; a new
order and a review decision after theirs. A notification must never undo or fail the change it
reports, so each hook runs under a savepoint and a failure is logged and counted, not raised.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg
from prometheus_client import Counter

from lago_core.ledger.store import Conn
from lago_core.logging import get_logger
from lago_core.notifications.service import Notice, NotificationService
from lago_core.notifications.store import NotificationStore

__all__ = ["NotificationHooks"]

log = get_logger(__name__)

HOOK_FAILURES = Counter(
    "lago_notification_hook_failures_total",
    "events whose notification could not be written (the event itself went ahead)",
    ["hook"],
)


def _yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


class NotificationHooks:
    def __init__(self, service: NotificationService, store: NotificationStore) -> None:
        self._service = service
        self._store = store

    async def _guarded(
        self, hook: str, conn: Conn | None, work: Callable[[Conn | None], Awaitable[None]]
    ) -> None:
        try:
            if conn is None:
                await work(None)
                return
            async with conn.transaction():  # a savepoint: a failure here leaves the caller's work
                await work(conn)
        except Exception:
            HOOK_FAILURES.labels(hook).inc()
            log.exception("notifications.hook_failed", hook=hook)

    async def _tell_merchant(
        self, conn: Conn | None, merchant_id: UUID, notice: Notice, *, sms: bool
    ) -> None:
        """Every member of the merchant; the owner also by SMS (to the registration's contact
        phone when there is one) when ``sms``."""
        db: Conn | asyncpg.Pool = conn if conn is not None else self._store.pool
        members = await self._store.merchant_members(db, merchant_id)
        if not members:
            return
        owner = [m["user_id"] for m in members if m["role"] == "owner"]
        staff = [m["user_id"] for m in members if m["role"] != "owner"]
        contact = await self._store.merchant_contact(db, merchant_id)
        phone: bool | str = sms
        if sms and contact is not None and contact["contact_phone"]:
            phone = contact["contact_phone"]
        await self._service.notify(owner, notice, sms=phone, conn=conn)
        await self._service.notify(staff, notice, conn=conn)

    # --- orders ----------------------------------------------------------------------------------

    async def order_created(self, row: asyncpg.Record) -> None:
        """A new (unpaid) order of a merchant: in-app."""
        if row["merchant_id"] is None:
            return

        async def work(conn: Conn | None) -> None:
            notice = Notice(
                "order_new",
                f"order:{row['id']}:created",
                "新订单",
                f"「{row['title']}」{_yuan(row['price_fen'])}，等待买家支付",
                _order_data(row),
            )
            await self._tell_merchant(conn, row["merchant_id"], notice, sms=False)

        await self._guarded("order_created", None, work)

    async def order_moved(self, conn: Conn, row: asyncpg.Record) -> None:
        """In the move's transaction: a merchant order paid (in-app and SMS to the owner) or
        with a refund requested (in-app)."""
        if row["merchant_id"] is None:
            return
        if row["status"] == "paid":
            notice = Notice(
                "order_paid",
                f"order:{row['id']}:paid",
                "新的已支付订单",
                f"「{row['title']}」已支付 {_yuan(row['price_fen'])}，请尽快接单",
                _order_data(row),
            )
            sms = True
        elif row["status"] == "refund_requested":
            notice = Notice(
                "order_refund_requested",
                f"order:{row['id']}:refund_requested",
                "买家申请退款",
                f"「{row['title']}」的买家申请退款，请处理",
                _order_data(row),
            )
            sms = False
        else:
            return

        async def work(c: Conn | None) -> None:
            await self._tell_merchant(c, row["merchant_id"], notice, sms=sms)

        await self._guarded("order_moved", conn, work)

    async def rated(self, conn: Conn, order: asyncpg.Record, rating: asyncpg.Record) -> None:
        """The buyer's rating of a merchant's order: a new review for the merchant."""
        if order["merchant_id"] is None or rating["rater_id"] != order["buyer_id"]:
            return
        comment = (rating["comment"] or "").strip()
        notice = Notice(
            "review_new",
            f"order:{order['id']}:review",
            "收到新评价",
            f"「{order['title']}」{rating['score']} 星" + (f"：{comment}" if comment else ""),
            {**_order_data(order), "score": rating["score"]},
        )

        async def work(c: Conn | None) -> None:
            await self._tell_merchant(c, order["merchant_id"], notice, sms=False)

        await self._guarded("rated", conn, work)

    # --- merchant applications -------------------------------------------------------------------

    async def merchant_decided(self, row: asyncpg.Record) -> None:
        """The review decision, to the applicant's owner: in-app, SMS and (if given) e-mail."""
        approved = row["status"] == "approved"
        if approved:
            title = "入驻审核已通过"
            body = f"您的店铺「{row['name']}」已通过审核，现在可以发布商品、接收订单了。"
        else:
            title = "入驻审核未通过"
            body = f"您的店铺「{row['name']}」未通过审核，原因：{row['rejection_reason']}。修改后可重新提交。"
        notice = Notice(
            "merchant_approved" if approved else "merchant_rejected",
            f"merchant:{row['id']}:{row['status']}:{row['decided_at'].isoformat()}",
            title,
            body,
            {"merchant_id": str(row["id"]), "reason": row["rejection_reason"]},
        )

        async def work(conn: Conn | None) -> None:
            members = await self._store.merchant_members(self._store.pool, row["id"])
            owner = [m["user_id"] for m in members if m["role"] == "owner"]
            await self._service.notify(
                owner,
                notice,
                sms=row["contact_phone"] or True,
                email=row["contact_email"],
            )

        await self._guarded("merchant_decided", None, work)

    # --- settlement ------------------------------------------------------------------------------

    async def payout_paid(self, conn: Conn, payout: asyncpg.Record) -> None:
        """A settlement's payout arrived: tell the payee (a user, or a merchant's members)."""
        key: str = payout["key"]
        if not key.startswith("settlement:"):
            return
        notice = Notice(
            "settlement_paid",
            f"payout:{payout['id']}:paid",
            "结算款已到账",
            f"本期结算 {_yuan(payout['amount_fen'])} 已打款",
            {
                "settlement_id": key.removeprefix("settlement:"),
                "payout_id": str(payout["id"]),
                "amount_fen": payout["amount_fen"],
            },
        )

        async def work(c: Conn | None) -> None:
            if payout["payee_kind"] == "merchant":
                await self._tell_merchant(c, payout["payee_id"], notice, sms=False)
            elif payout["payee_kind"] == "user":
                await self._service.notify([payout["payee_id"]], notice, conn=c)

        await self._guarded("payout_paid", conn, work)

    async def settlement_available(self, conn: Conn, settlement: asyncpg.Record) -> None:
        """A merchant's settlement became its available balance (T+7): tell its members."""
        notice = Notice(
            "settlement_available",
            f"settlement:{settlement['id']}:available",
            "结算款已入账",
            f"本期结算 {_yuan(settlement['net_fen'])} 已转入可提现余额",
            {
                "settlement_id": str(settlement["id"]),
                "amount_fen": settlement["net_fen"],
            },
        )

        async def work(c: Conn | None) -> None:
            await self._tell_merchant(c, settlement["payee_id"], notice, sms=False)

        await self._guarded("settlement_available", conn, work)


def _order_data(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "order_id": str(row["id"]),
        "merchant_id": str(row["merchant_id"]),
        "price_fen": row["price_fen"],
    }
