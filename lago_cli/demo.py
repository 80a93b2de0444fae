"""`lago seed-demo`: a community with its property company, verified residents and listings.

Runs through the same services as the API (so every rule applies) and is safe to run twice:
accounts and the community that already exist are reused.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from lago_core.container import Core, build_core
from lago_core.coupons import TemplateSpec
from lago_core.courses import CourseSpec, LessonSpec
from lago_core.errors import Conflict
from lago_core.events import EventSpec
from lago_core.groupbuys import CampaignSpec
from lago_core.listings.service import Category, Condition, ListingDraft, ListingKind
from lago_core.merchants.rules import DocumentKind, ItemKind
from lago_core.security.roles import MemberStatus, PlatformRole, Principal
from lago_core.settings import Settings

__all__ = ["DEMO_ACCOUNTS", "seed"]

# phone, display name, platform role
DEMO_ACCOUNTS: dict[str, tuple[str, str, PlatformRole | None]] = {
    "admin": ("13900000001", "平台管理员", PlatformRole.ADMIN),
    "service": ("13900000002", "客服小美", PlatformRole.CUSTOMER_SERVICE),
    "property": ("13900000003", "物业小李", None),
    "merchant": ("13900000004", "玩具店老板", None),
    "alice": ("13900000011", "住户王阿姨", None),
    "bob": ("13900000012", "住户张先生", None),
    "carol": ("13900000013", "住户刘女士", None),
}
COMMUNITY = ("翠湖花园", "北京市海淀区翠湖南路 1 号", Decimal("39.990120"), Decimal("116.310500"))
COMPANY = "阳光物业服务有限公司"


async def _account(core: Core, key: str, password: str) -> Principal:
    phone, name, role = DEMO_ACCOUNTS[key]
    try:
        view = await core.identity.create_user(phone, password, name, role)
        user_id = view.id
    except Conflict:
        existing = await core.identity.user_by_phone(phone)
        assert existing is not None
        user_id = existing.id
    return Principal(user_id=user_id, session_id=UUID(int=0), platform_role=role)


async def seed(settings: Settings) -> None:
    password = os.environ.get("LAGO_DEMO_PASSWORD", "lago-demo-2026")
    core = await build_core(settings)
    try:
        accounts = {key: await _account(core, key, password) for key in DEMO_ACCOUNTS}
        admin = accounts["admin"]
        store = core.communities.store
        company = await store.create_company(COMPANY)
        if company is None:
            company_id = await core.pool.fetchval(
                "SELECT id FROM property_companies WHERE name = $1", COMPANY
            )
        else:
            company_id = company["id"]
        await core.communities.add_company_staff(admin, company_id, accounts["property"].user_id)
        name, address, lat, lng = COMMUNITY
        try:
            community_id = (
                await core.communities.create(admin, name, address, lat, lng, company_id)
            )["id"]
        except Conflict:
            community_id = await core.pool.fetchval(
                "SELECT id FROM communities WHERE name = $1 AND address = $2", name, address
            )
        staff = accounts["property"]
        for key in ("alice", "bob", "carol"):
            resident = accounts[key]
            membership = await core.communities.request_to_join(
                resident, community_id, f"{key}-1-101", None
            )
            if membership["status"] != MemberStatus.VERIFIED.value:
                await core.communities.decide(
                    staff, community_id, resident.user_id, MemberStatus.VERIFIED, None
                )
        listings = await _seed_listings(core, accounts, community_id)
        await _seed_events(core, staff, community_id)
        await _seed_conversation(core, accounts)
        print(f"demo community {name} ({community_id}), property company {COMPANY}")
        print(f"{len(listings)} new listings; every demo account's password: {password}")
        for key, (phone, display, role) in DEMO_ACCOUNTS.items():
            print(f"  {key:9} {phone}  {display}  {role.value if role else ''}")
    finally:
        await core.close()


# seller, title, description, category, condition, kind, brand, price or daily rent, deposit (fen)
_LISTINGS: list[
    tuple[str, str, str, Category, Condition, ListingKind, str | None, int, int | None]
] = [
    (
        "alice",
        "任天堂 Switch OLED 续航版",
        "带两个手柄和马车8，周末可租",
        Category.GAME_CONSOLE,
        Condition.LIKE_NEW,
        ListingKind.RENT,
        "Nintendo",
        3_000,
        150_000,
    ),
    (
        "alice",
        "乐高 城市系列 消防局 60320",
        "拼过一次，零件齐全，有说明书",
        Category.BUILDING_BLOCKS,
        Condition.LIKE_NEW,
        ListingKind.SALE,
        "LEGO",
        45_000,
        None,
    ),
    (
        "bob",
        "PS5 光驱版 九成新",
        "带一个手柄，支持面交验机",
        Category.GAME_CONSOLE,
        Condition.LIKE_NEW,
        ListingKind.SALE,
        "Sony",
        280_000,
        None,
    ),
    (
        "bob",
        "儿童滑板车",
        "三轮，可折叠，适合3-6岁",
        Category.OUTDOOR,
        Condition.GOOD,
        ListingKind.RENT,
        None,
        500,
        10_000,
    ),
    (
        "carol",
        "毛绒小熊（大号）",
        "洗过消毒，可在小区门口面交",
        Category.PLUSH,
        Condition.GOOD,
        ListingKind.SALE,
        None,
        3_000,
        None,
    ),
]
_CONSIGNMENT_TITLE = "寄卖：奥特曼手办套装"
# A stand-in scan of the demo merchant's business licence (营业执照).
_DEMO_LICENCE = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
# The demo merchant's registration; its credit code carries a valid GB 32100-2015 check digit.
_DEMO_COMPANY = {
    "legal_name": "北京邻里玩具铺有限公司",
    "credit_code": "91110108MA01ABCD0B",
    "legal_representative": "赵老板",
    "contact_phone": "13900000004",
    "address": "北京市海淀区翠湖南路 1 号底商",
    "business_scope": "玩具、游戏机销售与寄卖",
}


async def _titles(core: Core, actor: Principal) -> set[str]:
    return {row["title"] for row in await core.listings.mine(actor, None, 100)}


async def _seed_listings(
    core: Core, accounts: dict[str, Principal], community_id: UUID
) -> list[UUID]:
    """Publish the demo listings once: a seller's listing with the same title is not repeated."""
    created: list[UUID] = []
    for seller, title, text, category, condition, kind, brand, amount, deposit in _LISTINGS:
        actor = accounts[seller]
        if title in await _titles(core, actor):
            continue
        rent = kind is ListingKind.RENT
        draft = ListingDraft(
            title=title,
            description=text,
            category=category,
            condition=condition,
            kind=kind,
            brand=brand,
            price_fen=None if rent else amount,
            rent_per_day_fen=amount if rent else None,
            deposit_fen=deposit if rent else None,
        )
        created.append((await core.listings.create(actor, draft))["id"])
    # The demo merchant serves the community and sells a consignment item there.
    owner = accounts["merchant"]
    merchants = await core.merchants.mine(owner)
    if merchants:
        merchant_id = merchants[0]["id"]
    else:
        merchant_id = (await core.merchants.create(owner, "邻里玩具铺"))["id"]
    if not await core.merchants.is_approved(merchant_id):
        await core.merchants.update_registration(owner, merchant_id, _DEMO_COMPANY)
        if not await core.merchants.documents(owner, merchant_id):
            await core.merchants.add_document(
                owner, merchant_id, DocumentKind.BUSINESS_LICENCE, _DEMO_LICENCE, "application/pdf"
            )
        await core.merchants.submit(owner, merchant_id)
        await core.merchants.approve(accounts["admin"], merchant_id)
    await core.merchants.bind_community(accounts["admin"], merchant_id, community_id)
    if _CONSIGNMENT_TITLE not in await _titles(core, owner):
        draft = ListingDraft(
            title=_CONSIGNMENT_TITLE,
            description="平台验货，正版",
            category=Category.FIGURE,
            condition=Condition.GOOD,
            kind=ListingKind.CONSIGNMENT,
            price_fen=19_900,
            merchant_id=merchant_id,
        )
        created.append((await core.listings.create(owner, draft))["id"])
    await _seed_group_buy(core, owner, merchant_id, community_id)
    await _seed_coupons(core, accounts["admin"], owner, merchant_id)
    await _seed_courses(core, owner, merchant_id)
    return created


async def _seed_conversation(core: Core, accounts: dict[str, Principal]) -> None:
    """Bob asks Alice about her LEGO set (私信); the client message ids make a re-run add nothing."""
    alice, bob = accounts["alice"], accounts["bob"]
    lego = [r for r in await core.listings.mine(alice, None, 100) if r["title"].startswith("乐高")]
    if not lego:
        return
    view, _ = await core.conversations.open(bob, lego[0]["id"])
    for who, client_msg_id, text in (
        (bob, "demo-1", "你好，乐高还在吗？周末可以面交吗"),
        (alice, "demo-2", "在的，周六上午十点小区南门见"),
    ):
        await core.conversations.send(who, view["id"], client_msg_id, text)


async def _seed_courses(core: Core, owner: Principal, merchant_id: UUID) -> None:
    """Two courses of the demo merchant (docs/courses.md): a free STEM taster and a paid LEGO
    course, each with lessons in the coming weeks — once."""
    if await core.courses.of_merchant(owner, merchant_id):
        return
    start = core.clock.now().replace(hour=2, minute=0, second=0, microsecond=0) + timedelta(days=2)
    for spec, lessons in (
        (
            CourseSpec(
                title="乐高机器人入门",
                category="lego",
                instructor="王老师",
                description="6–10 岁，每周六上午一节，搭建会动的机器人。",
                price_fen=19_900,
                capacity=12,
                merchant_id=merchant_id,
            ),
            ("第一课：齿轮与杠杆", "第二课：马达与传动", "第三课：编程小车"),
        ),
        (
            CourseSpec(
                title="周末 STEM 小实验",
                category="stem",
                instructor="李老师",
                description="在家就能做的科学小实验，免费体验课。",
                price_fen=0,
                merchant_id=merchant_id,
            ),
            ("浮力与沉浮", "彩虹与折射"),
        ),
    ):
        course = await core.courses.create_course(owner, spec)
        for week, title in enumerate(lessons):
            await core.courses.add_lesson(
                owner, course["id"], LessonSpec(title, start + timedelta(weeks=week), 45)
            )


async def _seed_coupons(core: Core, admin: Principal, owner: Principal, merchant_id: UUID) -> None:
    """The PRD's coupons (§5.1): the new-user ¥10, 满50减5 in the claim centre, and the demo
    merchant's 9折 with a budget — once."""
    if await core.coupons.platform_templates(admin):
        return
    for spec in (
        TemplateSpec(
            name="新人专享 10 元券",
            kind="amount_off",
            amount_off_fen=1_000,
            valid_days=30,
            new_user=True,
            claimable=False,
        ),
        TemplateSpec(
            name="满50减5",
            kind="amount_off",
            amount_off_fen=500,
            threshold_fen=5_000,
            valid_days=14,
            total_count=1_000,
            per_user_limit=2,
        ),
    ):
        await core.coupons.create_template(admin, spec)
    await core.coupons.create_template(
        owner,
        TemplateSpec(
            name="玩具铺 9 折",
            kind="percent_off",
            percent_off_bps=1000,
            max_discount_fen=3_000,
            valid_days=14,
            merchant_id=merchant_id,
            budget_fen=50_000,
            total_count=200,
        ),
    )


async def _seed_group_buy(
    core: Core, owner: Principal, merchant_id: UUID, community_id: UUID
) -> None:
    """A group-buy campaign in the demo community (拼团: a LEGO class for three or more)."""
    if await core.groupbuys.campaigns_of(owner, merchant_id):
        return
    item = await core.merchants.create_item(
        owner, merchant_id, "乐高搭建课（周末班）", ItemKind.SERVICE, 15_000, 100
    )
    await core.groupbuys.create_campaign(
        owner,
        CampaignSpec(
            merchant_id=merchant_id,
            title="乐高搭建课 3 人成团",
            description="周末两小时，材料全包，3 人成团每人省 51 元",
            item_id=item["id"],
            group_price_fen=9_900,
            original_price_fen=15_000,
            min_members=3,
            max_members=8,
            community_ids=[community_id],
        ),
    )


async def _seed_events(core: Core, staff: Principal, community_id: UUID) -> None:
    """Two weekend events (社区活动) next Saturday, published — once."""
    if await core.events.of_community(staff, community_id):
        return
    local = core.clock.now().astimezone(ZoneInfo("Asia/Shanghai"))
    saturday = (local + timedelta(days=(5 - local.weekday()) % 7 or 7)).date()

    def at(hour: int) -> datetime:
        return datetime(
            saturday.year, saturday.month, saturday.day, hour, tzinfo=ZoneInfo("Asia/Shanghai")
        )

    for title, place, programme, start, capacity in (
        ("玩具回收节", "小区中心广场", "10:00 开场\n10:30 旧玩具换积分\n11:30 抽奖", 10, 30),
        ("租赁日", "会所一楼", "14:00 游戏机试玩\n15:00 租赁咨询", 14, 20),
    ):
        spec = EventSpec(title, place, programme, at(start), at(start + 2), capacity)
        await core.events.create(staff, community_id, spec, publish=True)
