"""AI operations (智能运营) and the customer portrait (用户画像), docs/insights.md.

Handlers are thin: who may read what is decided in :class:`lago_core.insights.InsightService`
(merchants their own, property staff their communities, admins and customer service all).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Schema

api = Api()
TAGS = ("insights",)
# Reports are cheap to make and weigh on someone's risk: a resident's reports are limited.
REPORT_LIMIT = "30/hour"


class ScopeQuery(Schema):
    community_id: UUID | None = Field(
        default=None,
        description="one community (its property staff, admins); omitted: every community the "
        "caller staffs, or all for admins and customer service",
    )


class RiskQuery(ScopeQuery):
    limit: int = Field(default=20, ge=1, le=100)


class Hotness(Schema):
    category: str
    name: str = Field(description="the category in Chinese")
    score: float = Field(
        description="Σ 0.5^(age days / 7) × (views + 3·favourites + 2·searches + 5·orders) "
        "over the last 28 days of hourly buckets"
    )
    views: int
    favourites: int
    searches: int
    orders: int
    gmv_fen: int
    trend_percent: int | None = Field(
        description="undecayed interest of the last 7 days against the 7 before; null: none before"
    )


class Risk(Schema):
    subject_kind: Literal["listing", "seller", "merchant"]
    subject_id: UUID
    name: str
    score: int = Field(description="weighted count over 30 days (docs/insights.md)")
    level: Literal["low", "medium", "high"]
    reasons: list[str] = Field(description="e.g. 3 次举报, 1 次退款，退款率 25 %")
    orders: int
    reports: int
    refunds: int
    cancellations: int
    low_ratings: int
    reported_messages: int


class EffectQuery(Schema):
    kind: str = Field(min_length=1, max_length=20, description="live, group_buy or event")
    id: UUID


class Period(Schema):
    start: datetime
    end: datetime
    members_joined: int
    messages: int
    orders: int
    gmv_fen: int


class Effect(Schema):
    kind: str
    id: UUID
    title: str
    community_ids: list[UUID]
    before: Period = Field(description="the same length of time just before")
    during: Period = Field(description="the window itself, up to now")
    change_percent: dict[str, int | None]


class Suggestion(Schema):
    kind: str = Field(description="best_slot, rising, risk, refunds_rising, low_ratings")
    text: str
    category: str | None = None


class Suggestions(Schema):
    week: date | None = Field(description="the Monday of the week; null: none yet")
    items: list[Suggestion]
    created_at: datetime | None


class SuggestionQuery(Schema):
    community_id: UUID


class PortraitQuery(Schema):
    days: int = Field(default=90, ge=1, le=366)


class Bucket(Schema):
    label: str
    count: int = Field(description="at least 10 (k-anonymity); 其他 merges the smaller groups")


class Portrait(Schema):
    days: int
    buyers: int | None = Field(description="null when fewer than 10: then nothing is shown")
    by_community: list[Bucket]
    by_area: list[Bucket] = Field(description="city and district of the buyer's community")
    repeat_rate_percent: int | None
    new_buyers: int | None = Field(description="first paid in the period")
    returning_buyers: int | None
    by_gender: list[Bucket] = Field(description="only buyers who chose to give it")
    by_age: list[Bucket] = Field(description="only buyers who chose to give a birth year")
    k: int = Field(description="no group smaller than this is shown")


class ReportIn(Schema):
    reason: str = Field(min_length=1, max_length=200)


class Reported(Schema):
    new: bool = Field(description="false when the caller had reported the listing before")


class DemographicsIn(Schema):
    gender: Literal["female", "male", "other"] | None = None
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    consent: bool = Field(description="must be true: the fields are given by choice")


class Demographics(Schema):
    given: bool
    gender: Literal["female", "male", "other"] | None
    birth_year: int | None
    consented_at: datetime | None


def _suggestions(found: dict[str, Any] | None) -> Suggestions:
    if found is None:
        return Suggestions(week=None, items=[], created_at=None)
    return Suggestions.model_validate(found)


def _demographics(row: Any) -> Demographics:
    if row is None:
        return Demographics(given=False, gender=None, birth_year=None, consented_at=None)
    return Demographics(
        given=True,
        gender=row["gender"],
        birth_year=row["birth_year"],
        consented_at=row["consented_at"],
    )


@api.get("/insights/hotness", tags=TAGS)
async def hotness(query: ScopeQuery, user: Principal, svc: Services) -> list[Hotness]:
    """Categories by hotness in a community (or the caller's communities). Property staff of
    the community, admins, customer service."""
    rows = await svc.insights.hotness(user, community_id=query.community_id)
    return [Hotness.model_validate(r) for r in rows]


@api.get("/insights/risk", tags=TAGS)
async def risk(query: RiskQuery, user: Principal, svc: Services) -> list[Risk]:
    """Listings, sellers and merchants with complaint signals in the last 30 days, riskiest
    first, each with its reasons. Property staff of the community, admins, customer service."""
    rows = await svc.insights.risk(user, community_id=query.community_id, limit=query.limit)
    return [Risk.model_validate(r) for r in rows]


@api.get("/insights/effect", tags=TAGS)
async def effect(query: EffectQuery, user: Principal, svc: Services) -> Effect:
    """Before and during a live stream or group buy: new channel members, messages, orders,
    GMV. The community's property staff, the merchant behind it, admins."""
    return Effect.model_validate(await svc.insights.effect(user, query.kind, query.id))


@api.get("/insights/suggestions", tags=TAGS)
async def community_suggestions(
    query: SuggestionQuery, user: Principal, svc: Services
) -> Suggestions:
    """The latest weekly suggestions for a community. Its property staff and admins."""
    return _suggestions(await svc.insights.suggestions(user, community_id=query.community_id))


@api.get("/merchants/{merchant_id}/insights/hotness", tags=TAGS)
async def merchant_hotness(merchant_id: UUID, user: Principal, svc: Services) -> list[Hotness]:
    """Hotness of the merchant's categories in the communities it serves. Its people, admins."""
    rows = await svc.insights.hotness(user, merchant_id=merchant_id)
    return [Hotness.model_validate(r) for r in rows]


@api.get("/merchants/{merchant_id}/insights/risk", tags=TAGS)
async def merchant_risk(merchant_id: UUID, user: Principal, svc: Services) -> list[Risk]:
    """Complaint risk of the merchant and its listings. Its people, admins."""
    rows = await svc.insights.risk(user, merchant_id=merchant_id)
    return [Risk.model_validate(r) for r in rows]


@api.get("/merchants/{merchant_id}/insights/suggestions", tags=TAGS)
async def merchant_suggestions(merchant_id: UUID, user: Principal, svc: Services) -> Suggestions:
    """The latest weekly suggestions for the merchant. Its people, admins."""
    return _suggestions(await svc.insights.suggestions(user, merchant_id=merchant_id))


@api.get("/merchants/{merchant_id}/insights/portrait", tags=TAGS)
async def merchant_portrait(
    merchant_id: UUID, query: PortraitQuery, user: Principal, svc: Services
) -> Portrait:
    """The merchant's buyers of the last `days`: by community and area, repeat rate, new and
    returning, gender and age band of those who chose to give them. No group of fewer than 10
    people is shown (merged into 其他, or hidden). Its people, admins."""
    return Portrait.model_validate(await svc.insights.portrait(user, merchant_id, query.days))


@api.post("/listings/{listing_id}/reports", tags=TAGS)
async def report_listing(
    listing_id: UUID, body: ReportIn, user: Principal, svc: Services
) -> Reported:
    """Report a listing (举报): once per listing and resident; it weighs on the listing's and
    its seller's or merchant's complaint risk."""
    await svc.limiter.hit_or_raise(REPORT_LIMIT, "listing-report", str(user.user_id))
    return Reported(new=await svc.insights.report_listing(user, listing_id, body.reason))


@api.get("/me/demographics", tags=TAGS)
async def my_demographics(user: Principal, svc: Services) -> Demographics:
    """The caller's optional profile fields (absent unless they chose to give them)."""
    return _demographics(await svc.insights.my_demographics(user))


@api.put("/me/demographics", tags=TAGS)
async def give_demographics(body: DemographicsIn, user: Principal, svc: Services) -> Demographics:
    """Give gender and/or birth year for merchants' portraits, with consent (`consent: true`,
    else `400 consent_required`). Shown only inside groups of at least 10 people."""
    row = await svc.insights.give_demographics(user, body.gender, body.birth_year, body.consent)
    return _demographics(row)


@api.delete("/me/demographics", status=204, tags=TAGS)
async def withdraw_demographics(user: Principal, svc: Services) -> None:
    """Withdraw consent: the fields are deleted."""
    await svc.insights.withdraw_demographics(user)
