"""Money out: merchants' bank accounts, available balance, withdrawals and income list; property
companies' monthly statements and payouts of their share.

docs/money.md ("Available balance and withdrawals", "Property statements") describes the flows
and why each step is safe to repeat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson
from prometheus_client import Counter

from lago_core.clock import Clock
from lago_core.communities import CommunityService
from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_core.idempotency import Idempotency
from lago_core.ledger import AccountKind, AccountRef, InsufficientFunds, Party, PartyKind
from lago_core.ledger.store import Conn
from lago_core.logging import get_logger
from lago_core.merchants import MerchantService
from lago_core.moneyout.crypto import BankCipher, Sealed
from lago_core.moneyout.store import MoneyOutStore
from lago_core.notifications import Notice, NotificationService
from lago_core.payments import PaymentService
from lago_core.security.roles import MerchantRole, Principal
from lago_core.settings import Settings
from lago_core.settlement.service import business_day, month_bounds

__all__ = [
    "Balance",
    "BankAccountView",
    "MoneyOutService",
    "mask_account",
    "month_bounds",
]

log = get_logger(__name__)

NOTICE_FAILURES = Counter(
    "lago_moneyout_notice_failures_total", "withdrawal notices that could not be written"
)
_ACCOUNT_NUMBER = re.compile(r"^[0-9]{8,30}$")
MAX_NAME = 60
HISTORY_LIMIT = 100


@dataclass(frozen=True, slots=True)
class BankAccountView:
    """What anyone but the provider sees of an account: masked."""

    id: UUID
    merchant_id: UUID
    holder_name: str  # masked: the first character and stars
    bank_name: str
    account_number: str  # masked: **** 1234
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Balance:
    merchant_id: UUID
    available_fen: int  # settled, not withdrawn: what a withdrawal may take
    unsettled_fen: int  # owed for orders not yet settled (T+7 not passed)
    in_transit_fen: int  # withdrawals requested and not yet paid
    withdrawn_fen: int  # withdrawals paid, ever
    min_fen: int
    max_fen: int
    daily_max_fen: int
    today_remaining_fen: int


def mask_account(number: str) -> str:
    return "**** " + number[-4:]


def _mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1)


def _clean(value: str, field: str, limit: int = MAX_NAME) -> str:
    value = value.strip()
    if not value or len(value) > limit or "\x00" in value:
        raise InvalidInput(f"{field} is 1–{limit} characters", code=f"invalid_{field}")
    return value


class MoneyOutService:
    def __init__(
        self,
        store: MoneyOutStore,
        *,
        payments: PaymentService,
        merchants: MerchantService,
        communities: CommunityService,
        notifications: NotificationService,
        idempotency: Idempotency,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.store = store
        self._payments = payments
        self._merchants = merchants
        self._communities = communities
        self._notifications = notifications
        self._idempotency = idempotency
        self.settings = settings
        self._clock = clock
        self.cipher = BankCipher(settings.bank_keys)

    def wire(self) -> None:
        """Follow payouts (called once, by the container)."""
        self._payments.register_destination("bank_account", self._destination)
        self._payments.on_payout_paid(self._on_payout_paid)
        self._payments.on_payout_failed(self._on_payout_failed)

    # --- bank accounts ---------------------------------------------------------------------------

    async def put_bank_account(
        self,
        actor: Principal,
        merchant_id: UUID,
        *,
        holder_name: str,
        bank_name: str,
        account_number: str,
    ) -> BankAccountView:
        """Set or replace the merchant's account: its owner only (staff and admins: 403)."""
        await self._merchants.require_owner(actor, merchant_id)
        number = re.sub(r"[\s-]", "", account_number)
        if not _ACCOUNT_NUMBER.match(number):
            raise InvalidInput("an account number is 8–30 digits", code="invalid_account_number")
        details = {
            "holder_name": _clean(holder_name, "holder_name"),
            "bank_name": _clean(bank_name, "bank_name"),
            "account_number": number,
        }
        sealed = self.cipher.seal(orjson.dumps(details), merchant_id.bytes)
        row = await self.store.put_bank_account(
            uuid4(),
            merchant_id,
            sealed.key_id,
            sealed.nonce,
            sealed.ciphertext,
            actor.user_id,
            self._clock.now(),
        )
        log.info("moneyout.bank_account_set", merchant_id=str(merchant_id), key_id=sealed.key_id)
        return self._view(row)

    async def bank_account(self, actor: Principal, merchant_id: UUID) -> BankAccountView | None:
        """The account, masked: the merchant's owner and staff, and admins."""
        await self._require_reader(actor, merchant_id)
        row = await self.store.bank_account(self.store.pool, merchant_id)
        return self._view(row) if row is not None else None

    def _open(self, row: asyncpg.Record) -> dict[str, str]:
        sealed = Sealed(row["key_id"], bytes(row["nonce"]), bytes(row["ciphertext"]))
        data: dict[str, str] = orjson.loads(self.cipher.open(sealed, row["merchant_id"].bytes))
        return data

    def _view(self, row: asyncpg.Record) -> BankAccountView:
        details = self._open(row)
        return BankAccountView(
            id=row["id"],
            merchant_id=row["merchant_id"],
            holder_name=_mask_name(details["holder_name"]),
            bank_name=details["bank_name"],
            account_number=mask_account(details["account_number"]),
            updated_at=row["updated_at"],
        )

    async def rotate_bank_keys(self) -> int:
        """Re-encrypt every account not under the current key; answers how many were."""
        done = 0
        for row in await self.store.accounts_not_under(self.cipher.current):
            plain = self.cipher.open(
                Sealed(row["key_id"], bytes(row["nonce"]), bytes(row["ciphertext"])),
                row["merchant_id"].bytes,
            )
            sealed = self.cipher.seal(plain, row["merchant_id"].bytes)
            if await self.store.reseal(
                row["id"], row["key_id"], sealed.key_id, sealed.nonce, sealed.ciphertext
            ):
                done += 1
        return done

    async def _destination(self, reference: str) -> str:
        """``bank_account:<id>`` → what the provider pays to (at submission only)."""
        row = await self.store.bank_account_by_id(UUID(reference.split(":", 1)[1]))
        if row is None:
            raise NotFound("the payout's bank account is gone")
        details = self._open(row)
        return f"bank:{details['bank_name']}:{details['account_number']}"

    # --- balance and withdrawals -----------------------------------------------------------------

    async def balance(self, actor: Principal, merchant_id: UUID) -> Balance:
        await self._require_reader(actor, merchant_id)
        ledger = self._payments.ledger
        available = await ledger.balance(AccountRef(AccountKind.MERCHANT_AVAILABLE, merchant_id))
        unsettled = await ledger.balance(AccountRef(AccountKind.MERCHANT_PAYABLE, merchant_id))
        totals = await self.store.withdrawal_totals(merchant_id)
        async with self.store.pool.acquire() as conn:
            today = await self.store.withdrawn_on(
                conn, merchant_id, business_day(self._clock.now())
            )
        s = self.settings
        return Balance(
            merchant_id=merchant_id,
            available_fen=available,
            unsettled_fen=unsettled,
            in_transit_fen=int(totals["in_transit_fen"]),
            withdrawn_fen=int(totals["withdrawn_fen"]),
            min_fen=s.withdrawal_min_fen,
            max_fen=s.withdrawal_max_fen,
            daily_max_fen=s.withdrawal_daily_max_fen,
            today_remaining_fen=max(0, s.withdrawal_daily_max_fen - today),
        )

    async def withdraw(
        self, actor: Principal, merchant_id: UUID, key: str, amount_fen: int
    ) -> tuple[int, dict[str, Any]]:
        """Withdraw from the available balance to the merchant's bank account: the owner only,
        once per idempotency key, within the limits; (status, body) as stored for the key."""
        await self._merchants.require_owner(actor, merchant_id)
        s = self.settings
        if amount_fen < s.withdrawal_min_fen:
            raise InvalidInput(
                "the amount is below the minimum withdrawal",
                code="withdrawal_below_minimum",
                details={"min_fen": s.withdrawal_min_fen},
            )
        if amount_fen > s.withdrawal_max_fen:
            raise InvalidInput(
                "the amount is above the maximum of one withdrawal",
                code="withdrawal_above_maximum",
                details={"max_fen": s.withdrawal_max_fen},
            )
        account = await self.store.bank_account(self.store.pool, merchant_id)
        if account is None:
            raise Conflict("add a bank account first", code="no_bank_account")
        last4 = self._open(account)["account_number"][-4:]
        merchant = Party(PartyKind.MERCHANT, merchant_id)
        available_ref = AccountRef(AccountKind.MERCHANT_AVAILABLE, merchant_id)

        async def action(conn: Conn) -> dict[str, Any]:
            await self.store.lock_merchant(conn, merchant_id)
            now = self._clock.now()
            day = business_day(now)
            today = await self.store.withdrawn_on(conn, merchant_id, day)
            if today + amount_fen > s.withdrawal_daily_max_fen:
                raise Conflict(
                    "the daily withdrawal limit would be exceeded",
                    code="withdrawal_daily_limit",
                    details={"remaining_fen": max(0, s.withdrawal_daily_max_fen - today)},
                )
            available = await self.store.balance(conn, available_ref.kind.value, merchant_id)
            if available < amount_fen:
                raise InsufficientFunds(
                    "the available balance is too low", details={"available_fen": available}
                )
            withdrawal_id = uuid4()
            # The ledger's CHECK on merchant_available is the last word on the balance: two
            # concurrent withdrawals lock its row in turn and the second overdraft is refused.
            payout = await self._payments.start_payout(
                conn,
                f"withdrawal:{withdrawal_id}",
                merchant,
                amount_fen,
                source=available_ref,
                destination=f"bank_account:{account['id']}",
            )
            row = await self.store.insert_withdrawal(
                conn,
                withdrawal_id=withdrawal_id,
                merchant_id=merchant_id,
                amount_fen=amount_fen,
                bank_account_id=account["id"],
                last4=last4,
                payout_id=payout["id"],
                actor=actor.user_id,
                day=day,
                now=now,
            )
            return _withdrawal_json(row)

        result = await self._idempotency.run(
            actor.user_id,
            key,
            "withdrawal",
            {"merchant_id": str(merchant_id), "amount_fen": amount_fen},
            action,
        )
        await self._payments.submit_later(UUID(result.body["payout_id"]))
        log.info(
            "moneyout.withdrawal_requested",
            merchant_id=str(merchant_id),
            amount_fen=amount_fen,
            replayed=result.replayed,
        )
        return result.status, result.body

    async def withdrawals(self, actor: Principal, merchant_id: UUID) -> list[dict[str, Any]]:
        await self._require_reader(actor, merchant_id)
        return [
            _withdrawal_json(r) for r in await self.store.withdrawals(merchant_id, HISTORY_LIMIT)
        ]

    async def _on_payout_paid(self, conn: Conn, payout: asyncpg.Record) -> None:
        await self._follow(conn, payout, "paid")

    async def _on_payout_failed(self, conn: Conn, payout: asyncpg.Record) -> None:
        await self._follow(conn, payout, "failed")

    async def _follow(self, conn: Conn, payout: asyncpg.Record, status: str) -> None:
        """A withdrawal's payout was paid or failed (its money already back in the available
        balance through the ledger): the withdrawal follows, in the same transaction."""
        if not str(payout["key"]).startswith("withdrawal:"):
            return
        row = await self.store.mark_withdrawal(
            conn, payout["id"], status, payout.get("failure_code"), self._clock.now()
        )
        if row is None:
            return
        yuan = f"¥{row['amount_fen'] // 100}.{row['amount_fen'] % 100:02d}"
        notice = (
            Notice(
                "withdrawal_paid",
                f"withdrawal:{row['id']}:paid",
                "提现已到账",
                f"提现 {yuan} 已转入尾号 {row['account_last4']} 的银行账户",
                {"withdrawal_id": str(row["id"]), "amount_fen": row["amount_fen"]},
            )
            if status == "paid"
            else Notice(
                "withdrawal_failed",
                f"withdrawal:{row['id']}:failed",
                "提现失败",
                f"提现 {yuan} 未能转入尾号 {row['account_last4']} 的账户，款项已退回可提现余额",
                {"withdrawal_id": str(row["id"]), "amount_fen": row["amount_fen"]},
            )
        )
        try:
            # A savepoint: a notice that cannot be written must not undo the money's move.
            async with conn.transaction():
                owners = await self.store.owners(conn, row["merchant_id"])
                await self._notifications.notify(owners, notice, conn=conn)
        except (asyncpg.PostgresError, OSError, ConnectionError):
            NOTICE_FAILURES.inc()
            log.warning("moneyout.notice_failed", withdrawal_id=str(row["id"]), exc_info=True)

    # --- income list -----------------------------------------------------------------------------

    async def income(self, actor: Principal, merchant_id: UUID, month: str) -> dict[str, Any]:
        """Per order paid in ``month``: the list price, the merchant's discount, commission,
        property share, refunds, net, and whether it is settled, available or withdrawn."""
        await self._require_reader(actor, merchant_id)
        _, start, end = month_bounds(month)
        rows = await self.store.income(merchant_id, start, end)
        # Withdrawals take the oldest settled money first (FIFO): a settlement is "withdrawn"
        # once withdrawals requested or paid cover it and every settlement before it.
        totals = await self.store.withdrawal_totals(merchant_id)
        taken = int(totals["in_transit_fen"]) + int(totals["withdrawn_fen"])
        withdrawn: set[UUID] = set()
        running = 0
        for s in await self.store.settlements_fifo(merchant_id):
            running += int(s["net_fen"])
            if running <= taken:
                withdrawn.add(s["id"])
        items = []
        for r in rows:
            gross = r["amount_fen"] + r["platform_discount_fen"] + r["merchant_discount_fen"]
            refunded = r["refunded_fen"] + r["refunded_platform_discount_fen"]
            commission = r["commission_fen"] - r["refunded_commission_fen"]
            share = r["property_share_fen"] - r["refunded_property_fen"]
            net = (
                r["amount_fen"]
                + r["platform_discount_fen"]
                - refunded
                - commission
                - share
                + r["deposit_withheld_fen"]
            )
            if r["settlement_id"] is None:
                state = "unsettled"
            elif r["settlement_id"] in withdrawn:
                state = "withdrawn"
            else:
                state = "available"
            items.append(
                {
                    "order_id": r["order_id"],
                    "kind": r["kind"],
                    "paid_at": r["captured_at"],
                    "order_status": r["status"],
                    "gross_fen": gross,
                    "merchant_discount_fen": r["merchant_discount_fen"],
                    "platform_discount_fen": r["platform_discount_fen"],
                    "refunded_fen": refunded,
                    "commission_fen": commission,
                    "property_share_fen": share,
                    "withheld_fen": r["deposit_withheld_fen"],
                    "net_fen": net,
                    "state": state,
                    "settlement_id": r["settlement_id"],
                    "settled_at": r["settled_at"],
                }
            )
        names = (
            "gross_fen",
            "merchant_discount_fen",
            "platform_discount_fen",
            "refunded_fen",
            "commission_fen",
            "property_share_fen",
            "withheld_fen",
            "net_fen",
        )
        return {
            "merchant_id": merchant_id,
            "month": month,
            "items": items,
            "totals": {n: sum(int(i[n]) for i in items) for n in names}
            | {"order_count": len(items)},
        }

    # --- property companies ----------------------------------------------------------------------

    async def property_statement(
        self, actor: Principal, company_id: UUID, month: str
    ) -> dict[str, Any]:
        """The company's share of the orders settled in ``month``, per community, and its
        payout: the company's staff and admins."""
        await self._require_company_reader(actor, company_id)
        return await self._statement(company_id, month)

    async def property_statements(
        self, actor: Principal, company_id: UUID, month: str | None
    ) -> list[dict[str, Any]]:
        """Summaries: of ``month``, or of the last twelve months (newest first)."""
        await self._require_company_reader(actor, company_id)
        if month is not None:
            months = [month]
        else:
            today = business_day(self._clock.now()).replace(day=1)
            months = []
            for _ in range(12):
                months.append(today.strftime("%Y-%m"))
                today = (today - timedelta(days=1)).replace(day=1)
        out = []
        for m in months:
            st = await self._statement(company_id, m)
            out.append({k: v for k, v in st.items() if k not in ("communities", "items")})
        return out

    async def _statement(self, company_id: UUID, month: str) -> dict[str, Any]:
        first, start, end = month_bounds(month)
        items = await self.store.property_items(company_id, start, end)
        communities: dict[UUID | None, dict[str, Any]] = {}
        for i in items:
            c = communities.setdefault(
                i["community_id"],
                {
                    "community_id": i["community_id"],
                    "community_name": i["community_name"],
                    "order_count": 0,
                    "share_fen": 0,
                },
            )
            c["order_count"] += 1
            c["share_fen"] += int(i["share_fen"])
        payout = await self.store.property_payout(company_id, first)
        return {
            "company_id": company_id,
            "month": month,
            "order_count": len(items),
            "share_fen": sum(int(i["share_fen"]) for i in items),
            "communities": sorted(
                communities.values(), key=lambda c: (-c["share_fen"], str(c["community_id"]))
            ),
            "items": [dict(i) for i in items],
            "payout": (
                {
                    "payout_id": payout["payout_id"],
                    "amount_fen": payout["amount_fen"],
                    "status": payout["payout_status"],
                    "paid_at": payout["paid_at"],
                }
                if payout is not None
                else None
            ),
        }

    async def pay_property_shares(self, month: str | None = None) -> dict[str, int]:
        """Pay each company its share of the orders settled in ``month`` (default: the last
        business month) — job ``pay_property_shares``. Once per (company, month): the payout key
        and the table's primary key make a rerun, or a run after a crash, pay nothing twice."""
        if month is None:
            this_month = business_day(self._clock.now()).replace(day=1)
            month = (this_month - timedelta(days=1)).strftime("%Y-%m")
        first, start, end = month_bounds(month)
        if end > self._clock.now():
            raise InvalidInput("a month is paid once it has ended", code="month_not_over")
        paid = 0
        for company_id in await self.store.companies_with_share(start, end):
            if await self.store.property_payout(company_id, first) is not None:
                continue
            items = await self.store.property_items(company_id, start, end)
            amount = sum(int(i["share_fen"]) for i in items)
            if amount <= 0:
                continue
            party = Party(PartyKind.PROPERTY_COMPANY, company_id)
            async with self.store.pool.acquire() as conn, conn.transaction():
                payout = await self._payments.start_payout(
                    conn, f"property-share:{company_id}:{month}", party, amount
                )
                await self.store.insert_property_payout(
                    conn, company_id, first, amount, payout["id"], self._clock.now()
                )
            await self._payments.submit_later(payout["id"])
            paid += 1
        return {"companies": paid}

    # --- permissions -----------------------------------------------------------------------------

    async def _require_reader(self, actor: Principal, merchant_id: UUID) -> MerchantRole | None:
        if actor.is_admin:
            await self._merchants.get(merchant_id)
            return None
        return await self._merchants.require_member(actor, merchant_id)

    async def _require_company_reader(self, actor: Principal, company_id: UUID) -> None:
        await self._communities.company(company_id)
        if actor.is_admin:
            return
        if not await self._communities.is_company_staff(company_id, actor.user_id):
            raise Forbidden("only the company's staff and admins see its statements")


def _withdrawal_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "merchant_id": str(row["merchant_id"]),
        "amount_fen": row["amount_fen"],
        "status": row["status"],
        "account": "**** " + row["account_last4"],
        "payout_id": str(row["payout_id"]),
        "failure_code": row["failure_code"],
        "created_at": row["created_at"].isoformat(),
        "paid_at": row["paid_at"].isoformat() if row["paid_at"] else None,
        "failed_at": row["failed_at"].isoformat() if row["failed_at"] else None,
    }
