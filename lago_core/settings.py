"""One settings object for every Lago process, read from the environment and validated at start-up.

A bad value raises :class:`SettingsError` naming the variable, and the CLI turns that into a one-line
message and exit status 2 — a process never starts half-configured.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

__all__ = ["Settings", "SettingsError"]

T = TypeVar("T")

Environment = Literal["dev", "test", "prod"]
StorageBackend = Literal["local", "s3"]
PaymentProviderName = Literal["sandbox"]


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


def _int(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw)
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return value

    return parse


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return raw

    return parse


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        parts = urlsplit(raw)
        if parts.scheme not in schemes:
            raise ValueError(f"must be a URL with scheme {' or '.join(schemes)}")
        return raw

    return parse


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _rate(raw: str) -> str:
    """A `limits` rate such as ``10/hour`` or ``20/15minute``, checked here rather than at the
    first request it would refuse."""
    from limits import parse

    parse(raw)  # raises ValueError naming what is wrong
    return raw


def _networks(raw: str) -> tuple[str, ...]:
    import ipaddress

    items = _csv(raw)
    for item in items:
        ipaddress.ip_network(item, strict=False)  # raises ValueError
    return items


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


@dataclass(frozen=True, slots=True)
class Settings:
    env: Environment = "dev"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Every Redis key, stream, pub/sub channel and arq queue of this deployment starts with this
    # prefix, so test runs (and several deployments on one Redis) never see each other's keys.
    redis_prefix: str = "lago:"
    # REDIS_URL names one node of a Redis Cluster (docs/architecture.md, "Redis Cluster").
    redis_cluster: bool = False
    # arq's queue, on a Redis of its own choosing: arq does not speak Redis Cluster. Empty: REDIS_URL.
    jobs_redis_url: str = ""
    node_id: str = field(default_factory=lambda: f"node-{secrets.token_hex(4)}")

    jwt_secret: str = ""
    jwt_issuer: str = "lago"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    verification_code_ttl_s: int = 300
    verification_max_attempts: int = 5
    sms_provider: str = "log"
    email_provider: str = "log"

    rest_host: str = "127.0.0.1"
    rest_port: int = 8080
    rt_host: str = "127.0.0.1"
    rt_port: int = 8081
    metrics_enabled: bool = True
    # Browser origins allowed on the socket and, with a session cookie, on REST. Empty: outside
    # prod, the web app's own origin (REST serves it) and the Vite dev server's (`npm run dev`,
    # port 3000; see ``browser_origins``); in prod, none until listed.
    allowed_origins: tuple[str, ...] = ()
    # The real-time node as browsers reach it (e.g. https://rt.lago.example); empty: the page's
    # own host name on rt_port, which is right for `make run` and a single-host deployment.
    public_rt_url: str = ""
    # The built web app (web/dist, `make web`), served at / by the REST process.
    web_dist: Path = Path(__file__).resolve().parents[1] / "web" / "dist"

    max_body_bytes: int = 1 << 20
    max_upload_bytes: int = 5 << 20
    db_pool_min: int = 1
    db_pool_max: int = 10

    storage_backend: StorageBackend = "local"
    storage_dir: Path = Path(".lago-local/media")
    media_base_url: str = "/media"
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key: str = ""
    s3_secret_key: str = ""

    # Channel actors (lago_rt). Times in milliseconds unless named _s.
    # A dead node's channels move to another within the lease: 2 s keeps failover under 3 s
    # (docs/benchmarks.md, "failover"); the heartbeat renews leases four times per lease.
    actor_lease_ms: int = 2_000
    node_heartbeat_ms: int = 500
    actor_idle_s: int = 120
    forward_timeout_ms: int = 5_000
    channel_stream_max: int = 10_000
    # Who came online or went away is announced at most once per this many ms per channel: in a
    # join storm the changes of a window go out as one `presence.changed` instead of one event
    # per member for every member (N members joining cost N² deliveries).
    presence_update_ms: int = 200
    # Per-connection limits on the socket gateway.
    client_msgs_per_s: int = 10
    client_msg_burst: int = 30
    client_send_buffer_bytes: int = 1 << 20
    max_message_bytes: int = 64 * 1024
    # Engine.IO pings: the node pings each connection this often and drops one that has not
    # answered within the timeout (the protocol's defaults).
    ping_interval_ms: int = 25_000
    ping_timeout_ms: int = 20_000
    # A real-time connection must connect a namespace (authenticate) within this.
    connect_timeout_ms: int = 45_000

    # Abuse budgets of the log-in, sign-up, password-reset and SMS-code endpoints, as `limits`
    # rates (docs/running.md, "Abuse limits"): per client address, per phone, and overall.
    # Proxies whose X-Forwarded-For is believed, as CIDRs; empty: the TCP peer is the client.
    trusted_proxies: tuple[str, ...] = ()
    limit_sms_per_address: str = "10/hour"
    limit_sms_global: str = "300/minute"
    limit_announcements_per_admin: str = "10/hour"
    limit_login_per_address: str = "60/minute"
    limit_login_global: str = "6000/minute"
    limit_login_failures_per_address: str = "20/15minute"
    limit_login_failures_per_phone_address: str = "10/15minute"
    # Past this many failures on one phone from anywhere, log-in there also needs an SMS code.
    limit_login_failures_per_phone: str = "30/hour"
    limit_signup_per_address: str = "20/hour"
    limit_signup_global: str = "600/minute"
    limit_reset_per_address: str = "20/hour"
    limit_reset_global: str = "600/minute"
    # Every mutating REST request (lago_rest/budgets.py): per account, per client address for
    # requests without one (residents behind one NAT share an address, so accounts are not
    # counted per address), and overall.
    limit_writes_per_account: str = "120/minute"
    limit_writes_per_address: str = "300/minute"
    limit_writes_global: str = "30000/minute"
    # Payments a payer opens at the provider (each one is a call to it), whatever they pay for.
    limit_payments_per_payer: str = "20/minute"
    limit_payments_per_payer_daily: str = "200/day"

    # Payments (docs/money.md). The sandbox is the only provider so far; it signs its webhooks
    # with payment_webhook_secret, which outside prod defaults to one derived from the JWT secret
    # (every process of `lago dev` / `make run` shares that one).
    payment_provider: PaymentProviderName = "sandbox"
    payment_webhook_secret: str = ""
    payment_intent_ttl_s: int = 900
    webhook_tolerance_s: int = 300
    # Where the sandbox delivers its webhooks; empty: this deployment's own REST listener.
    sandbox_webhook_url: str = ""
    # Platform commission on the price, and the property company's share of that commission, in
    # basis points (1/100 of a percent); the orders work passes its own per category.
    commission_bps: int = 1_000
    # Group buys (docs/groupbuys.md): how long a reserved seat waits for its payment, unless the
    # campaign sets its own window.
    groupbuy_payment_window_s: int = 900
    # At most one `groupbuy.updated` per channel per this many ms: a rush of joins becomes a few
    # updates a second for every member, not one per join.
    groupbuy_update_ms: int = 1_000
    property_share_bps: int = 2_000

    # Money out (docs/money.md, "Available balance and withdrawals"). Bank accounts are encrypted
    # with LAGO_BANK_KEY: "<id>:<base64 of 32 bytes>[,<id>:<key>…]", the first encrypts, all
    # decrypt (rotation); required in prod, derived from the JWT secret elsewhere.
    bank_key: str = ""
    withdrawal_min_fen: int = 100
    withdrawal_max_fen: int = 5_000_000
    withdrawal_daily_max_fen: int = 10_000_000
    # Weekend events (docs/events.md): the HMAC key of check-in QR codes; outside prod, and in
    # prod when unset, a key derived from the JWT secret (a separate key: a leaked one signs no
    # session tokens). Rotating it voids every QR code not yet scanned.
    event_ticket_secret: str = ""
    # The CJK font of generated invoices ("path" or "path#face" of a collection).
    invoice_font: str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc#2"

    # Orders (docs/orders.md). An order not paid within this time is cancelled by a job; it is
    # longer than the payment intent's lifetime so that the intent has expired by then and a
    # late payment is rare (one that still arrives is refunded by the order sweep).
    unpaid_order_ttl_s: int = 1_800
    # Orders one buyer may hold unpaid at once: each reserves a listing until paid or cancelled,
    # so without a cap one account could hold a community's market for the TTL above.
    max_unpaid_orders: int = 3
    # Charged per started day a rental is returned after its due time, withheld from the deposit.
    rental_late_fee_per_day_fen: int = 1_000
    # Swaps (docs/swaps.md): an offer nobody answered expires after this; an accepted swap whose
    # hand-over is not confirmed by both within this is cancelled (its listings and any paid
    # difference go back).
    swap_offer_ttl_s: int = 7 * 86_400
    swap_handover_ttl_s: int = 7 * 86_400
    # Points (docs/points.md): a channel post earns publishing points once it has stood this
    # long without being deleted by moderation.
    points_post_grace_s: int = 3_600

    # Subscriptions (docs/subscriptions.md). A failed renewal is retried every retry_s until
    # the grace period (benefits hold) ends, then the subscription lapses; an agreement not
    # signed within sign_ttl_s is abandoned.
    subscription_grace_s: int = 3 * 86_400
    subscription_retry_s: int = 6 * 3_600
    subscription_sign_ttl_s: int = 86_400
    # Active listings a resident who is not a member may have at once (members: no cap).
    listing_cap_non_member: int = 10
    # How long a buyer's virtual number (虚拟号) reaches the seller.
    virtual_number_ttl_s: int = 2 * 3_600

    log_level: str = "INFO"
    log_format: str = "json"

    # AI: search intent, customer service, recommendations (docs/ai.md). With no base URL the
    # local deterministic engine serves everything; any OpenAI-compatible endpoint otherwise.
    ai_base_url: str = ""
    ai_api_key: str = ""
    ai_model: str = "gpt-4o-mini"
    ai_timeout_s: int = 20
    # The endpoint's embedding model for search (docs/ai.md); empty: the bundled local model.
    ai_embedding_model: str = ""
    # Neighbouring communities within this distance count for search and recommendations.
    ai_neighbour_radius_m: int = 3_000
    # Toy lockers (issue 7, docs/lockers.md). Devices heartbeat every locker_heartbeat_ms and are
    # offline after 1.5 of those without one; an unacknowledged door command is resent (same
    # request id) every locker_command_retry_ms and times out after locker_command_timeout_ms.
    locker_heartbeat_ms: int = 30_000
    locker_command_retry_ms: int = 3_000
    locker_command_timeout_ms: int = 20_000
    # How long a deposit, pickup or return code stays valid.
    locker_code_ttl_s: int = 24 * 3_600
    # Live streams (docs/live.md). ICE: STUN/TURN URLs handed to every peer connection (none:
    # host candidates only), TURN credentials, and the local addresses ICE may gather (empty:
    # every interface but loopback, aioice's default; set e.g. 127.0.0.1 or the public address).
    live_media_backend: str = "aiortc"
    live_stun_urls: tuple[str, ...] = ()
    live_turn_urls: tuple[str, ...] = ()
    live_turn_username: str = ""
    live_turn_credential: str = ""
    live_ice_addresses: tuple[str, ...] = ()
    # Viewers one node relays to; the next one is refused with `viewer_limit`.
    live_max_viewers_per_node: int = 200

    # name -> (environment variable, parser). Parsers raise ValueError with the reason.
    @classmethod
    def _spec(cls) -> dict[str, tuple[str, Callable[[str], object]]]:
        return {
            "env": ("LAGO_ENV", _choice("dev", "test", "prod")),
            "database_url": ("DATABASE_URL", _url("postgresql", "postgres")),
            "redis_url": ("REDIS_URL", _url("redis", "rediss", "unix")),
            "redis_prefix": ("LAGO_REDIS_PREFIX", str),
            "redis_cluster": ("LAGO_REDIS_CLUSTER", _bool),
            "jobs_redis_url": ("LAGO_JOBS_REDIS_URL", _url("redis", "rediss", "unix")),
            "node_id": ("LAGO_NODE_ID", str),
            "jwt_secret": ("LAGO_JWT_SECRET", str),
            "jwt_issuer": ("LAGO_JWT_ISSUER", str),
            "access_token_ttl_s": ("LAGO_ACCESS_TOKEN_TTL", _int(30, 86_400)),
            "refresh_token_ttl_s": ("LAGO_REFRESH_TOKEN_TTL", _int(300, 365 * 86_400)),
            "verification_code_ttl_s": ("LAGO_VERIFICATION_CODE_TTL", _int(30, 3_600)),
            "verification_max_attempts": ("LAGO_VERIFICATION_MAX_ATTEMPTS", _int(1, 20)),
            "sms_provider": ("LAGO_SMS_PROVIDER", _choice("log")),
            "email_provider": ("LAGO_EMAIL_PROVIDER", _choice("log")),
            "rest_host": ("LAGO_REST_HOST", str),
            "rest_port": ("LAGO_REST_PORT", _int(0, 65_535)),
            "rt_host": ("LAGO_RT_HOST", str),
            "rt_port": ("LAGO_RT_PORT", _int(0, 65_535)),
            "metrics_enabled": ("LAGO_METRICS", _bool),
            "allowed_origins": ("LAGO_ALLOWED_ORIGINS", _csv),
            "max_body_bytes": ("LAGO_MAX_BODY_BYTES", _int(1_024, 64 << 20)),
            "max_upload_bytes": ("LAGO_MAX_UPLOAD_BYTES", _int(1_024, 256 << 20)),
            "db_pool_min": ("LAGO_DB_POOL_MIN", _int(0, 100)),
            "db_pool_max": ("LAGO_DB_POOL_MAX", _int(1, 500)),
            "storage_backend": ("LAGO_STORAGE", _choice("local", "s3")),
            "storage_dir": ("LAGO_STORAGE_DIR", Path),
            "web_dist": ("LAGO_WEB_DIST", Path),
            "public_rt_url": ("LAGO_PUBLIC_RT_URL", str),
            "media_base_url": ("LAGO_MEDIA_BASE_URL", str),
            "s3_endpoint": ("LAGO_S3_ENDPOINT", _url("http", "https")),
            "s3_bucket": ("LAGO_S3_BUCKET", str),
            "s3_region": ("LAGO_S3_REGION", str),
            "s3_access_key": ("LAGO_S3_ACCESS_KEY", str),
            "s3_secret_key": ("LAGO_S3_SECRET_KEY", str),
            "actor_lease_ms": ("LAGO_ACTOR_LEASE_MS", _int(200, 600_000)),
            "node_heartbeat_ms": ("LAGO_NODE_HEARTBEAT_MS", _int(50, 60_000)),
            "actor_idle_s": ("LAGO_ACTOR_IDLE_S", _int(1, 86_400)),
            "forward_timeout_ms": ("LAGO_FORWARD_TIMEOUT_MS", _int(100, 60_000)),
            "channel_stream_max": ("LAGO_CHANNEL_STREAM_MAX", _int(100, 10_000_000)),
            "presence_update_ms": ("LAGO_PRESENCE_UPDATE_MS", _int(10, 5_000)),
            "client_msgs_per_s": ("LAGO_CLIENT_MSGS_PER_S", _int(1, 10_000)),
            "client_msg_burst": ("LAGO_CLIENT_MSG_BURST", _int(1, 100_000)),
            "client_send_buffer_bytes": ("LAGO_CLIENT_SEND_BUFFER_BYTES", _int(4_096, 1 << 30)),
            "max_message_bytes": ("LAGO_MAX_MESSAGE_BYTES", _int(1_024, 16 << 20)),
            "ping_interval_ms": ("LAGO_PING_INTERVAL_MS", _int(50, 600_000)),
            "ping_timeout_ms": ("LAGO_PING_TIMEOUT_MS", _int(50, 600_000)),
            "connect_timeout_ms": ("LAGO_CONNECT_TIMEOUT_MS", _int(50, 600_000)),
            "trusted_proxies": ("LAGO_TRUSTED_PROXIES", _networks),
            "limit_sms_per_address": ("LAGO_LIMIT_SMS_PER_ADDRESS", _rate),
            "limit_sms_global": ("LAGO_LIMIT_SMS_GLOBAL", _rate),
            "limit_announcements_per_admin": ("LAGO_LIMIT_ANNOUNCEMENTS_PER_ADMIN", _rate),
            "limit_login_per_address": ("LAGO_LIMIT_LOGIN_PER_ADDRESS", _rate),
            "limit_login_global": ("LAGO_LIMIT_LOGIN_GLOBAL", _rate),
            "limit_login_failures_per_address": ("LAGO_LIMIT_LOGIN_FAILURES_PER_ADDRESS", _rate),
            "limit_login_failures_per_phone_address": (
                "LAGO_LIMIT_LOGIN_FAILURES_PER_PHONE_ADDRESS",
                _rate,
            ),
            "limit_login_failures_per_phone": ("LAGO_LIMIT_LOGIN_FAILURES_PER_PHONE", _rate),
            "limit_signup_per_address": ("LAGO_LIMIT_SIGNUP_PER_ADDRESS", _rate),
            "limit_signup_global": ("LAGO_LIMIT_SIGNUP_GLOBAL", _rate),
            "limit_reset_per_address": ("LAGO_LIMIT_RESET_PER_ADDRESS", _rate),
            "limit_reset_global": ("LAGO_LIMIT_RESET_GLOBAL", _rate),
            "limit_writes_per_account": ("LAGO_LIMIT_WRITES_PER_ACCOUNT", _rate),
            "limit_writes_per_address": ("LAGO_LIMIT_WRITES_PER_ADDRESS", _rate),
            "limit_writes_global": ("LAGO_LIMIT_WRITES_GLOBAL", _rate),
            "limit_payments_per_payer": ("LAGO_LIMIT_PAYMENTS_PER_PAYER", _rate),
            "limit_payments_per_payer_daily": ("LAGO_LIMIT_PAYMENTS_PER_PAYER_DAILY", _rate),
            "payment_provider": ("LAGO_PAYMENT_PROVIDER", _choice("sandbox")),
            "payment_webhook_secret": ("LAGO_PAYMENT_WEBHOOK_SECRET", str),
            "event_ticket_secret": ("LAGO_EVENT_TICKET_SECRET", str),
            "payment_intent_ttl_s": ("LAGO_PAYMENT_INTENT_TTL_S", _int(60, 7 * 86_400)),
            "webhook_tolerance_s": ("LAGO_WEBHOOK_TOLERANCE_S", _int(10, 3_600)),
            "sandbox_webhook_url": ("LAGO_SANDBOX_WEBHOOK_URL", _url("http", "https")),
            "commission_bps": ("LAGO_COMMISSION_BPS", _int(0, 10_000)),
            "groupbuy_payment_window_s": ("LAGO_GROUPBUY_PAYMENT_WINDOW_S", _int(60, 86_400)),
            "groupbuy_update_ms": ("LAGO_GROUPBUY_UPDATE_MS", _int(10, 10_000)),
            "property_share_bps": ("LAGO_PROPERTY_SHARE_BPS", _int(0, 10_000)),
            "bank_key": ("LAGO_BANK_KEY", str),
            "invoice_font": ("LAGO_INVOICE_FONT", str),
            "withdrawal_min_fen": ("LAGO_WITHDRAWAL_MIN_FEN", _int(1, 100_000_000)),
            "withdrawal_max_fen": ("LAGO_WITHDRAWAL_MAX_FEN", _int(1, 1_000_000_000)),
            "withdrawal_daily_max_fen": ("LAGO_WITHDRAWAL_DAILY_MAX_FEN", _int(1, 10_000_000_000)),
            "unpaid_order_ttl_s": ("LAGO_UNPAID_ORDER_TTL_S", _int(60, 7 * 86_400)),
            "max_unpaid_orders": ("LAGO_MAX_UNPAID_ORDERS", _int(1, 100)),
            "swap_offer_ttl_s": ("LAGO_SWAP_OFFER_TTL_S", _int(60, 90 * 86_400)),
            "swap_handover_ttl_s": ("LAGO_SWAP_HANDOVER_TTL_S", _int(60, 90 * 86_400)),
            "rental_late_fee_per_day_fen": (
                "LAGO_RENTAL_LATE_FEE_PER_DAY_FEN",
                _int(0, 100_000_000),
            ),
            "subscription_grace_s": ("LAGO_SUBSCRIPTION_GRACE_S", _int(0, 30 * 86_400)),
            "subscription_retry_s": ("LAGO_SUBSCRIPTION_RETRY_S", _int(60, 7 * 86_400)),
            "subscription_sign_ttl_s": ("LAGO_SUBSCRIPTION_SIGN_TTL_S", _int(60, 30 * 86_400)),
            "listing_cap_non_member": ("LAGO_LISTING_CAP_NON_MEMBER", _int(0, 100_000)),
            "virtual_number_ttl_s": ("LAGO_VIRTUAL_NUMBER_TTL_S", _int(60, 30 * 86_400)),
            "points_post_grace_s": ("LAGO_POINTS_POST_GRACE_S", _int(0, 30 * 86_400)),
            "log_level": ("LAGO_LOG_LEVEL", _choice("DEBUG", "INFO", "WARNING", "ERROR")),
            "log_format": ("LAGO_LOG_FORMAT", _choice("json", "console")),
            # AI (docs/ai.md)
            "ai_base_url": ("LAGO_AI_BASE_URL", _url("http", "https")),
            "ai_api_key": ("LAGO_AI_API_KEY", str),
            "ai_model": ("LAGO_AI_MODEL", str),
            "ai_timeout_s": ("LAGO_AI_TIMEOUT_S", _int(1, 600)),
            "ai_embedding_model": ("LAGO_AI_EMBEDDING_MODEL", str),
            "ai_neighbour_radius_m": ("LAGO_AI_NEIGHBOUR_RADIUS_M", _int(0, 19_500)),
            # Toy lockers (issue 7).
            "locker_heartbeat_ms": ("LAGO_LOCKER_HEARTBEAT_MS", _int(100, 3_600_000)),
            "locker_command_retry_ms": ("LAGO_LOCKER_COMMAND_RETRY_MS", _int(50, 600_000)),
            "locker_command_timeout_ms": ("LAGO_LOCKER_COMMAND_TIMEOUT_MS", _int(100, 3_600_000)),
            "locker_code_ttl_s": ("LAGO_LOCKER_CODE_TTL_S", _int(60, 30 * 86_400)),
            # Live streams (docs/live.md).
            "live_media_backend": ("LAGO_LIVE_MEDIA_BACKEND", _choice("aiortc")),
            "live_stun_urls": ("LAGO_LIVE_STUN_URLS", _csv),
            "live_turn_urls": ("LAGO_LIVE_TURN_URLS", _csv),
            "live_turn_username": ("LAGO_LIVE_TURN_USERNAME", str),
            "live_turn_credential": ("LAGO_LIVE_TURN_CREDENTIAL", str),
            "live_ice_addresses": ("LAGO_LIVE_ICE_ADDRESSES", _csv),
            "live_max_viewers_per_node": ("LAGO_LIVE_MAX_VIEWERS_PER_NODE", _int(0, 100_000)),
        }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); keyword overrides win.

        Raises :class:`SettingsError` naming the first variable that is wrong.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, (variable, parse) in cls._spec().items():
            raw = environ.get(variable)
            if raw is None or raw == "":
                continue
            try:
                values[name] = parse(raw)
            except ValueError as exc:
                raise SettingsError(variable, str(exc) or "invalid value") from None
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        """Cross-field checks that a single parser cannot make."""
        # HS256 wants at least 32 bytes of key (RFC 7518 §3.2).
        if self.env == "prod" and not self.jwt_secret:
            raise SettingsError("LAGO_JWT_SECRET", "must be set in prod")
        if self.jwt_secret and len(self.jwt_secret.encode()) < 32:
            raise SettingsError("LAGO_JWT_SECRET", "must be at least 32 bytes")
        if self.redis_cluster and not self.redis_url.startswith("redis://"):
            # rediss:// would reach the rate limiter's cluster storage as plain TCP.
            raise SettingsError("REDIS_URL", "must be a redis:// URL when LAGO_REDIS_CLUSTER is on")
        if self.redis_cluster and self.jobs_url == self.redis_url:
            raise SettingsError(
                "LAGO_JOBS_REDIS_URL",
                "must name a Redis outside the cluster when LAGO_REDIS_CLUSTER is on (arq "
                "does not support Redis Cluster)",
            )
        if self.db_pool_min > self.db_pool_max:
            raise SettingsError("LAGO_DB_POOL_MIN", "must not exceed LAGO_DB_POOL_MAX")
        if self.storage_backend == "s3":
            for name in ("s3_endpoint", "s3_bucket", "s3_access_key", "s3_secret_key"):
                if not getattr(self, name):
                    raise SettingsError(self._spec()[name][0], "is required when LAGO_STORAGE=s3")
        if not self.node_id or "|" in self.node_id:
            # An actor's lease is "<instance>|<epoch>" (lago_core/actor_messages.py, LeaseValue).
            raise SettingsError("LAGO_NODE_ID", "must be non-empty and without '|'")
        if self.node_heartbeat_ms * 2 > self.actor_lease_ms:
            raise SettingsError(
                "LAGO_NODE_HEARTBEAT_MS", "must be at most half of LAGO_ACTOR_LEASE_MS"
            )
        if self.payment_webhook_secret and len(self.payment_webhook_secret.encode()) < 32:
            raise SettingsError("LAGO_PAYMENT_WEBHOOK_SECRET", "must be at least 32 bytes")
        if self.event_ticket_secret and len(self.event_ticket_secret.encode()) < 32:
            raise SettingsError("LAGO_EVENT_TICKET_SECRET", "must be at least 32 bytes")
        if self.env == "prod" and not self.payment_webhook_secret:
            raise SettingsError("LAGO_PAYMENT_WEBHOOK_SECRET", "must be set in prod")
        if self.env == "prod" and not self.bank_key:
            raise SettingsError("LAGO_BANK_KEY", "must be set in prod")
        if self.withdrawal_min_fen > self.withdrawal_max_fen:
            raise SettingsError(
                "LAGO_WITHDRAWAL_MIN_FEN", "must not exceed LAGO_WITHDRAWAL_MAX_FEN"
            )
        if self.env == "prod" and "*" in self.allowed_origins:
            raise SettingsError("LAGO_ALLOWED_ORIGINS", "must list origins explicitly in prod")

    @property
    def browser_origins(self) -> tuple[str, ...]:
        """The browser origins allowed: ``LAGO_ALLOWED_ORIGINS`` when set; otherwise, outside
        prod, the web app's own origin (served by REST, on ``LAGO_REST_PORT``) and the Vite dev
        server's (port 3000), each as localhost and 127.0.0.1."""
        if self.allowed_origins or self.env == "prod":
            return self.allowed_origins
        return tuple(
            f"http://{host}:{port}"
            for port in (self.rest_port, 3000)
            for host in ("localhost", "127.0.0.1")
        )

    @property
    def jobs_url(self) -> str:
        """The Redis that holds arq's queue and job keys."""
        return self.jobs_redis_url or self.redis_url

    @property
    def signing_secret(self) -> str:
        """The JWT secret; outside prod an unset secret is derived per process tree by `lago dev`."""
        if not self.jwt_secret:
            raise SettingsError("LAGO_JWT_SECRET", "is not set")
        return self.jwt_secret

    @property
    def webhook_secret(self) -> bytes:
        """The payment webhook HMAC key; outside prod derived from the JWT secret when unset."""
        if self.payment_webhook_secret:
            return self.payment_webhook_secret.encode()
        # A separate key from the JWT one (HMAC of a label), so a leaked webhook key signs no tokens.
        return hmac.new(self.signing_secret.encode(), b"lago-payment-webhooks", "sha256").digest()

    @property
    def event_ticket_key(self) -> bytes:
        """The HMAC key of event check-in QR codes; derived from the JWT secret when unset."""
        if self.event_ticket_secret:
            return self.event_ticket_secret.encode()
        return hmac.new(self.signing_secret.encode(), b"lago-event-tickets", "sha256").digest()

    @property
    def bank_keys(self) -> str:
        """LAGO_BANK_KEY; outside prod, when unset, one key derived from the JWT secret."""
        if self.bank_key:
            return self.bank_key
        derived = hmac.new(self.signing_secret.encode(), b"lago-bank-accounts", "sha256").digest()
        return "dev:" + base64.b64encode(derived).decode()

    @property
    def webhook_url(self) -> str:
        """Where the sandbox provider posts its webhooks."""
        if self.sandbox_webhook_url:
            return self.sandbox_webhook_url
        host = "127.0.0.1" if self.rest_host in ("0.0.0.0", "::", "") else self.rest_host
        return f"http://{host}:{self.rest_port}/api/v1/payments/webhooks/sandbox"

    @property
    def call_webhook_url(self) -> str:
        """Where the sandbox posts virtual-number call records: beside the payments webhook."""
        return self.webhook_url.replace(
            "/api/v1/payments/webhooks/", "/api/v1/virtual-numbers/webhooks/"
        )

    def key(self, *parts: str) -> str:
        """A Redis key inside this deployment's prefix."""
        return self.redis_prefix + ":".join(parts)

    def as_env(self) -> dict[str, str]:
        """Environment variables that reproduce these settings in a child process."""
        spec = self._spec()
        out: dict[str, str] = {}
        for f in fields(self):
            variable = spec[f.name][0]
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                out[variable] = ",".join(value)
            elif isinstance(value, bool):
                out[variable] = "true" if value else "false"
            else:
                out[variable] = str(value)
        return {k: v for k, v in out.items() if v != ""}
