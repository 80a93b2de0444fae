"""Money out: merchants' bank account, balance, withdrawals (提现) and income list (收入明细);
property companies' statements. Handlers are thin: who may do what is decided in
:class:`lago_core.moneyout.MoneyOutService`."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.routes.payments import IdempotencyKey
from lago_rest.schemas import Schema

api = Api()
TAGS = ("money out",)
Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM, China time")]


class BankAccountIn(Schema):
    holder_name: str = Field(min_length=1, max_length=60, description="户名")
    bank_name: str = Field(min_length=1, max_length=60, description="开户行")
    account_number: str = Field(
        min_length=8, max_length=40, description="8–30 digits; spaces and dashes are ignored"
    )


class BankAccount(Schema):
    id: UUID
    merchant_id: UUID
    holder_name: str = Field(description="masked: the first character, then stars")
    bank_name: str
    account_number: str = Field(description="masked: **** and the last four digits")
    updated_at: datetime


class BankAccountOut(Schema):
    account: BankAccount | None = Field(description="null until the owner adds one")


class BalanceOut(Schema):
    merchant_id: UUID
    available_fen: int = Field(description="settled (T+7) and not withdrawn: what may be withdrawn")
    unsettled_fen: int = Field(description="owed for orders whose T+7 has not passed")
    in_transit_fen: int = Field(description="withdrawals requested, not yet paid")
    withdrawn_fen: int = Field(description="withdrawals paid, ever")
    min_fen: int
    max_fen: int
    daily_max_fen: int
    today_remaining_fen: int


class WithdrawalIn(Schema):
    amount_fen: int = Field(strict=True, gt=0, le=1_000_000_000, description="integer fen (分)")


class Withdrawal(Schema):
    id: UUID
    merchant_id: UUID
    amount_fen: int
    status: Literal["requested", "paid", "failed"]
    account: str = Field(description="the account it went to, masked")
    payout_id: UUID
    failure_code: str | None
    created_at: datetime
    paid_at: datetime | None
    failed_at: datetime | None


class MonthQuery(Schema):
    month: Month


class OptionalMonthQuery(Schema):
    month: Month | None = None


class IncomeItem(Schema):
    order_id: UUID
    kind: Literal["order", "group_buy_order"]
    paid_at: datetime
    order_status: str
    gross_fen: int = Field(description="the list price, before any coupon")
    merchant_discount_fen: int = Field(description="the merchant's own coupons (borne by it)")
    platform_discount_fen: int = Field(description="platform coupons (paid by the platform)")
    refunded_fen: int
    commission_fen: int
    property_share_fen: int
    withheld_fen: int = Field(description="rental deposit withheld (late fees, damages)")
    net_fen: int = Field(description="what the merchant gets for the order")
    state: Literal["unsettled", "available", "withdrawn"]
    settlement_id: UUID | None
    settled_at: datetime | None


class IncomeTotals(Schema):
    order_count: int
    gross_fen: int
    merchant_discount_fen: int
    platform_discount_fen: int
    refunded_fen: int
    commission_fen: int
    property_share_fen: int
    withheld_fen: int
    net_fen: int


class Income(Schema):
    merchant_id: UUID
    month: str
    items: list[IncomeItem]
    totals: IncomeTotals


class CommunityShare(Schema):
    community_id: UUID | None = Field(description="null for payments older than this field")
    community_name: str | None
    order_count: int
    share_fen: int


class StatementItem(Schema):
    kind: Literal["order", "group_buy_order"]
    order_id: UUID
    community_id: UUID | None
    community_name: str | None
    share_fen: int
    settled_at: datetime


class PropertyPayout(Schema):
    payout_id: UUID
    amount_fen: int
    status: Literal["pending", "paid", "failed"]
    paid_at: datetime | None


class PropertyStatementSummary(Schema):
    company_id: UUID
    month: str
    order_count: int
    share_fen: int = Field(description="the company's share of the orders settled this month")
    payout: PropertyPayout | None


class PropertyStatement(PropertyStatementSummary):
    communities: list[CommunityShare]
    items: list[StatementItem]


@api.get("/merchants/{merchant_id}/bank-account", tags=TAGS)
async def get_bank_account(merchant_id: UUID, user: Principal, svc: Services) -> BankAccountOut:
    """The merchant's bank account, masked (owner, staff, admins)."""
    view = await svc.moneyout.bank_account(user, merchant_id)
    return BankAccountOut(account=BankAccount.model_validate(asdict(view)) if view else None)


@api.put("/merchants/{merchant_id}/bank-account", tags=TAGS)
async def put_bank_account(
    merchant_id: UUID, body: BankAccountIn, user: Principal, svc: Services
) -> BankAccountOut:
    """Set or replace the bank account withdrawals go to: the merchant's owner only. Stored
    encrypted; answered masked."""
    view = await svc.moneyout.put_bank_account(
        user,
        merchant_id,
        holder_name=body.holder_name,
        bank_name=body.bank_name,
        account_number=body.account_number,
    )
    return BankAccountOut(account=BankAccount.model_validate(asdict(view)))


@api.get("/merchants/{merchant_id}/balance", tags=TAGS)
async def get_balance(merchant_id: UUID, user: Principal, svc: Services) -> BalanceOut:
    """Available (withdrawable), unsettled, in transit and withdrawn; the limits."""
    return BalanceOut.model_validate(asdict(await svc.moneyout.balance(user, merchant_id)))


@api.post("/merchants/{merchant_id}/withdrawals", status=201, tags=TAGS)
async def withdraw(
    merchant_id: UUID,
    body: WithdrawalIn,
    idempotency_key: IdempotencyKey,
    user: Principal,
    svc: Services,
) -> Withdrawal:
    """Withdraw from the available balance (the owner; ``Idempotency-Key`` required). 422
    ``withdrawal_below_minimum``/``withdrawal_above_maximum``; 409 ``withdrawal_daily_limit``,
    ``insufficient_funds`` (``details.available_fen``), ``no_bank_account``."""
    _, result = await svc.moneyout.withdraw(user, merchant_id, idempotency_key, body.amount_fen)
    return Withdrawal.model_validate(result)


@api.get("/merchants/{merchant_id}/withdrawals", tags=TAGS)
async def list_withdrawals(merchant_id: UUID, user: Principal, svc: Services) -> list[Withdrawal]:
    """The last 100 withdrawals, newest first (owner, staff, admins)."""
    return [Withdrawal.model_validate(w) for w in await svc.moneyout.withdrawals(user, merchant_id)]


@api.get("/merchants/{merchant_id}/income", tags=TAGS)
async def income(merchant_id: UUID, query: MonthQuery, user: Principal, svc: Services) -> Income:
    """Per order paid in the month: gross, discounts, commission, property share, net, state."""
    return Income.model_validate(await svc.moneyout.income(user, merchant_id, query.month))


@api.get("/property-companies/{company_id}/statements", tags=TAGS)
async def property_statements(
    company_id: UUID, query: OptionalMonthQuery, user: Principal, svc: Services
) -> list[PropertyStatementSummary]:
    """Monthly share statements (the given month, or the last twelve): company staff, admins."""
    rows = await svc.moneyout.property_statements(user, company_id, query.month)
    return [PropertyStatementSummary.model_validate(r) for r in rows]


@api.get("/property-companies/{company_id}/statements/{month}", tags=TAGS)
async def property_statement(
    company_id: UUID, month: str, user: Principal, svc: Services
) -> PropertyStatement:
    """One month: the share per community and per order, and the month's payout."""
    return PropertyStatement.model_validate(
        await svc.moneyout.property_statement(user, company_id, month)
    )
