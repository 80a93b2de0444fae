"""The notification centre: the one way a service tells a user something (docs/notifications.md).

``notify`` writes a row per user (deduplicated by a key, so a retried event tells once) and, for
SMS and e-mail, a delivery row per channel — in the caller's transaction when given one. What
follows the commit is done by the job ``deliver_notification``: the live ``notification:new``
push, then each delivery through its provider, retried with backoff until it is sent or given up.
A sweep finds what a lost job left behind, so nothing depends on an enqueue succeeding.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from prometheus_client import Counter

from lago_core.clock import Clock
from lago_core.email import EmailMessage, EmailProvider
from lago_core.errors import Forbidden, InvalidInput, NotFound
from lago_core.jobs import DELIVER_NOTIFICATION, FAN_OUT_ANNOUNCEMENT, JobQueue
from lago_core.ledger.store import Conn
from lago_core.logging import get_logger
from lago_core.notifications.store import NotificationStore
from lago_core.push import Pusher
from lago_core.push_events import NOTIFICATION_NEW
from lago_core.ratelimit import RateLimiter
from lago_core.security.roles import Principal
from lago_core.settings import Settings
from lago_core.sms import SmsProvider

__all__ = [
    "ANNOUNCEMENT_BATCH",
    "RETRY_DELAYS",
    "AudienceRole",
    "Notice",
    "NotificationService",
]

log = get_logger(__name__)

DELIVERIES = Counter(
    "lago_notification_deliveries_total",
    "SMS and e-mail attempts of notifications, by outcome (sent, retry, failed)",
    ["channel", "outcome"],
)
JOB_ENQUEUE_FAILURES = Counter(
    "lago_notification_enqueue_failures_total",
    "delivery jobs that could not be queued (the sweep delivers them later)",
)

# Delays before the second, third, ... attempt of an SMS or e-mail; after the last, given up.
RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
)
# A claimed attempt is someone's for this long; a worker that died mid-send is retried after.
SEND_LEASE = timedelta(minutes=5)
# What the sweep considers lost: older than this and still not pushed / still sending.
SWEEP_AFTER = timedelta(minutes=1)
SWEEP_LIMIT = 500
ANNOUNCEMENT_BATCH = 500
SMS_MAX_CHARS = 300


class AudienceRole(enum.StrEnum):
    """The roles an announcement may address (docs/notifications.md)."""

    RESIDENT = "resident"  # verified members of any community
    MERCHANT = "merchant"  # owners and staff of any merchant
    PROPERTY_STAFF = "property_staff"
    ADMIN = "admin"
    CUSTOMER_SERVICE = "customer_service"


@dataclass(frozen=True, slots=True)
class Notice:
    """What to tell. ``key`` identifies the event: one notification per user and key, ever."""

    kind: str
    key: str
    title: str
    body: str
    data: Mapping[str, Any] = field(default_factory=dict)


class NotificationService:
    def __init__(
        self,
        store: NotificationStore,
        *,
        pusher: Pusher,
        jobs: JobQueue,
        sms: SmsProvider,
        email: EmailProvider,
        limiter: RateLimiter,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.store = store
        self._pusher = pusher
        self._jobs = jobs
        self._sms = sms
        self._email = email
        self._limiter = limiter
        self._settings = settings
        self._clock = clock

    # --- telling ---------------------------------------------------------------------------------

    async def notify(
        self,
        user_ids: Iterable[UUID],
        notice: Notice,
        *,
        sms: bool | str = False,
        email: str | None = None,
        conn: Conn | None = None,
    ) -> list[UUID]:
        """Tell each of ``user_ids`` (in-app and live), once per ``notice.key``.

        ``sms``: True sends the text to each recipient's own phone, a string to that number
        (E.164) instead; ``email`` an address to send it to as well. With ``conn`` everything is
        written in the caller's transaction and happens only if it commits. Returns the ids of
        the notifications made by this call (empty when every recipient was told before)."""
        users = list(dict.fromkeys(user_ids))
        if conn is not None:
            ids = await self._write(conn, users, notice, sms, email, hold=True)
            # Queued before the commit: the job waits on the rows' advisory locks (store.insert).
            for notification_id in ids:
                await self._enqueue(notification_id)
            return ids
        async with self.store.pool.acquire() as own, own.transaction():
            ids = await self._write(own, users, notice, sms, email, hold=False)
        await self._push(ids)
        if sms or email:
            for notification_id in ids:
                await self._enqueue(notification_id)
        return ids

    async def _write(
        self,
        conn: Conn,
        users: Sequence[UUID],
        notice: Notice,
        sms: bool | str,
        email: str | None,
        *,
        hold: bool,
    ) -> list[UUID]:
        now = self._clock.now()
        rows = await self.store.insert(
            conn,
            users,
            notice.kind,
            notice.key,
            _clip(notice.title, 100),
            _clip(notice.body, 2000),
            dict(notice.data),
            now,
            hold=hold,
        )
        deliveries: list[tuple[UUID, str, str]] = []
        if sms:
            phones = (
                {r["user_id"]: sms for r in rows}
                if isinstance(sms, str)
                else await self.store.phones(conn, [r["user_id"] for r in rows])
            )
            deliveries += [
                (r["id"], "sms", phones[r["user_id"]]) for r in rows if r["user_id"] in phones
            ]
        if email:
            deliveries += [(r["id"], "email", email) for r in rows]
        await self.store.add_deliveries(conn, deliveries, now)
        return [r["id"] for r in rows]

    async def _enqueue(self, notification_id: UUID) -> None:
        try:
            await self._jobs.enqueue(
                DELIVER_NOTIFICATION, str(notification_id), job_id=f"notification:{notification_id}"
            )
        except Exception:
            # Never fail the caller's change for want of a queue: the sweep delivers it.
            JOB_ENQUEUE_FAILURES.inc()
            log.warning("notifications.enqueue_failed", exc_info=True)

    # --- delivering (jobs) -------------------------------------------------------------------------

    async def deliver(self, notification_id: UUID) -> str:
        """Job ``deliver_notification``: the live push, then every due SMS/e-mail attempt."""
        await self.store.wait_for_writer(notification_id)
        if await self.store.get(notification_id) is None:
            return "gone"  # the writer's transaction rolled back
        await self._push([notification_id])
        return await self._send_due(notification_id)

    async def _push(self, ids: Sequence[UUID]) -> None:
        if not ids:
            return
        rows = await self.store.claim_pushes(ids, self._clock.now())
        if not rows:
            return
        unread = await self.store.unread_counts([r["user_id"] for r in rows])
        for row in rows:
            payload = {"notification": view(row), "unread": unread.get(row["user_id"], 0)}
            try:
                await self._pusher.to_user(row["user_id"], NOTIFICATION_NEW, payload)
            except Exception:
                # At most once (the Pusher counts it): the list over REST is the truth.
                log.warning("notifications.push_failed", notification_id=str(row["id"]))

    async def _send_due(self, notification_id: UUID) -> str:
        notice = await self.store.get(notification_id)
        assert notice is not None
        outcomes: list[str] = []
        for delivery in await self.store.deliveries_of(notification_id):
            if delivery["status"] != "pending":
                continue
            now = self._clock.now()
            claimed = await self.store.claim_delivery(
                notification_id, delivery["channel"], now, now + SEND_LEASE
            )
            if claimed is None:
                continue  # not due yet, or another worker holds the attempt
            outcomes.append(await self._attempt(notice, claimed))
        return ",".join(outcomes) or "nothing_due"

    async def _attempt(self, notice: asyncpg.Record, delivery: asyncpg.Record) -> str:
        channel: str = delivery["channel"]
        try:
            if channel == "sms":
                text = _clip(f"{notice['title']}：{notice['body']}", SMS_MAX_CHARS)
                await self._sms.send_notice(delivery["address"], text)
            else:
                await self._email.send(
                    EmailMessage(delivery["address"], notice["title"], notice["body"])
                )
        except Exception as exc:
            # Any provider failure is retried (counted and logged): a provider's outage must not
            # lose the message, and which exceptions a provider raises is its own business.
            attempts: int = delivery["attempts"]
            retry_at = (
                self._clock.now() + RETRY_DELAYS[attempts - 1]
                if attempts <= len(RETRY_DELAYS)
                else None
            )
            outcome = "retry" if retry_at is not None else "failed"
            DELIVERIES.labels(channel, outcome).inc()
            log.warning(
                "notifications.delivery_failed",
                notification_id=str(notice["id"]),
                channel=channel,
                attempts=attempts,
                outcome=outcome,
                error=f"{type(exc).__name__}: {exc}",
            )
            await self.store.delivery_failed(
                notice["id"], channel, f"{type(exc).__name__}: {exc}", retry_at
            )
            if retry_at is not None:
                await self._retry_at(notice["id"], attempts, retry_at)
            return f"{channel}:{outcome}"
        await self.store.delivery_sent(notice["id"], channel, self._clock.now())
        DELIVERIES.labels(channel, "sent").inc()
        return f"{channel}:sent"

    async def _retry_at(self, notification_id: UUID, attempts: int, at: datetime) -> None:
        try:
            await self._jobs.enqueue(
                DELIVER_NOTIFICATION,
                str(notification_id),
                job_id=f"notification:{notification_id}:{attempts}",
                defer_until=at,
            )
        except Exception:
            JOB_ENQUEUE_FAILURES.inc()
            log.warning("notifications.enqueue_failed", exc_info=True)

    async def sweep(self) -> dict[str, int]:
        """Job ``sweep_notifications``: due retries, pushes and announcements a lost job left."""
        now = self._clock.now()
        due = await self.store.due_deliveries(now, SWEEP_LIMIT)
        for notification_id in due:
            await self._send_due(notification_id)
        unpushed = await self.store.unpushed(now - SWEEP_AFTER, SWEEP_LIMIT)
        await self._push(unpushed)
        sending = await self.store.sending_announcements(now - SWEEP_AFTER)
        for announcement_id in sending:
            await self.fan_out(announcement_id)
        return {"deliveries": len(due), "pushes": len(unpushed), "announcements": len(sending)}

    # --- reading (the user's own) ------------------------------------------------------------------

    async def page(
        self, actor: Principal, before: tuple[datetime, UUID] | None, limit: int
    ) -> list[asyncpg.Record]:
        return await self.store.page(actor.user_id, before, limit)

    async def unread_count(self, actor: Principal) -> int:
        return await self.store.unread_count(actor.user_id)

    async def mark_read(self, actor: Principal, notification_id: UUID) -> int:
        """Mark one of the caller's notifications read (again is fine); the unread count left."""
        if await self.store.mark_read(actor.user_id, notification_id, self._clock.now()) is None:
            raise NotFound("notification not found", code="notification_not_found")
        return await self.store.unread_count(actor.user_id)

    async def mark_all_read(self, actor: Principal) -> int:
        """The number marked now."""
        return await self.store.mark_all_read(actor.user_id, self._clock.now())

    # --- announcements -----------------------------------------------------------------------------

    async def announce(
        self,
        actor: Principal,
        title: str,
        body: str,
        *,
        everyone: bool = False,
        community_id: UUID | None = None,
        role: AudienceRole | None = None,
    ) -> asyncpg.Record:
        """An admin's announcement to everyone, one community's verified residents, or one role;
        fanned out by the job ``fan_out_announcement``."""
        if not actor.is_admin:
            raise Forbidden("only platform admins make announcements")
        if [everyone, community_id is not None, role is not None].count(True) != 1:
            raise InvalidInput(
                "address exactly one of: everyone, one community, one role",
                code="invalid_audience",
            )
        title, body = title.strip(), body.strip()
        if not title or not body:
            raise InvalidInput(
                "an announcement needs a title and a body", code="empty_announcement"
            )
        if community_id is not None and not await self.store.community_exists(community_id):
            raise NotFound("community not found", code="community_not_found")
        await self._limiter.hit_or_raise(
            self._settings.limit_announcements_per_admin, "announcements", str(actor.user_id)
        )
        audience = "community" if community_id else "role" if role else "all"
        row = await self.store.insert_announcement(
            {
                "id": uuid4(),
                "author_id": actor.user_id,
                "title": title,
                "body": body,
                "audience": audience,
                "community_id": community_id,
                "role": role.value if role else None,
                "created_at": self._clock.now(),
            }
        )
        try:
            await self._jobs.enqueue(
                FAN_OUT_ANNOUNCEMENT, str(row["id"]), job_id=f"announcement:{row['id']}"
            )
        except Exception:
            JOB_ENQUEUE_FAILURES.inc()
            log.warning("notifications.enqueue_failed", exc_info=True)
        return row

    async def announcements(
        self, actor: Principal, before: tuple[datetime, UUID] | None, limit: int
    ) -> list[asyncpg.Record]:
        if not actor.is_admin:
            raise Forbidden("only platform admins list announcements")
        return await self.store.announcements(before, limit)

    async def fan_out(self, announcement_id: UUID, *, batch: int = ANNOUNCEMENT_BATCH) -> int:
        """Job ``fan_out_announcement``: a notification for each user of the audience, a batch
        per transaction with the last user id kept, so a rerun goes on where one stopped (and
        the dedupe key makes a repeated batch insert nothing). Returns how many were told."""
        told = 0
        while True:
            async with self.store.pool.acquire() as conn, conn.transaction():
                row = await self.store.lock_announcement(conn, announcement_id)
                if row is None or row["status"] == "sent":
                    return told
                query, value = _audience_query(row)
                users = await self.store.audience_batch(
                    conn, query, row["last_user_id"], value, batch
                )
                notice = Notice(
                    "announcement",
                    f"announcement:{announcement_id}",
                    row["title"],
                    row["body"],
                    {"announcement_id": str(announcement_id)},
                )
                ids = await self._write(conn, users, notice, False, None, hold=False)
                done = len(users) < batch
                await self.store.announcement_progress(
                    conn,
                    announcement_id,
                    users[-1] if users else None,
                    len(ids),
                    self._clock.now() if done else None,
                )
            await self._push(ids)
            told += len(ids)
            if done:
                log.info("notifications.announced", announcement_id=str(announcement_id))
                return told


def view(row: asyncpg.Record) -> dict[str, Any]:
    """A notification as the apps see it (REST and the push)."""
    return {
        "id": str(row["id"]),
        "kind": row["kind"],
        "title": row["title"],
        "body": row["body"],
        "data": row["data"],
        "created_at": row["created_at"].isoformat(),
        "read_at": row["read_at"].isoformat() if row["read_at"] else None,
    }


def _audience_query(row: asyncpg.Record) -> tuple[str, str | None]:
    if row["audience"] == "community":
        return "community", str(row["community_id"])
    if row["audience"] == "role":
        role = AudienceRole(row["role"])
        if role in (AudienceRole.ADMIN, AudienceRole.CUSTOMER_SERVICE):
            return "platform_role", role.value
        return role.value, None
    return "all", None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
