"""Write budgets of the REST API: every mutating request, whichever endpoint it is for.

Budgets kept by each service only cover the endpoints someone thought of; one account (or a
stolen token) could otherwise create orders, payments or listings as fast as it can send. So every
POST, PUT, PATCH and DELETE under ``/api/`` is counted here (docs/running.md, "Abuse limits"):

- per account when the request is authenticated. Not per address as well: the residents of one
  compound often share one NAT address, and one budget for all of them would refuse people;
- per client address when it is not (log-in, sign-up, the sandbox's pages);
- overall, so that many accounts together cannot exceed what the deployment is sized for.

Reads are not counted. Endpoints declared with ``write_budget=False`` (the providers' signed
webhooks: not people, and a refusal only delays the money) are left alone.

The counters are in Redis. When it does not answer, a write is let through unchecked (logged and
counted in ``lago_write_budget_unchecked_total``) rather than refused: a budget against abuse
should not turn a Redis blip into every write of the API failing.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import Counter
from redis.exceptions import RedisError

from lago_core.client_address import client_address
from lago_core.logging import get_logger
from lago_rest.api import UNBUDGETED_ROUTES
from lago_rest.context import principal_of, services_of

__all__ = ["WRITE_BUDGET_UNCHECKED", "WRITE_METHODS", "write_budget_middleware"]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WRITE_BUDGET_UNCHECKED = Counter(
    "lago_write_budget_unchecked_total", "Writes let through because the budgets' Redis failed"
)
log = get_logger("lago_rest.budgets")


@web.middleware
async def write_budget_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a write past its budget with ``429 rate_limited`` before its handler runs. Runs
    inside the authentication middleware, whose principal it reads."""
    if (
        request.method not in WRITE_METHODS
        or not request.path.startswith("/api/")
        or request.match_info.route in request.app.get(UNBUDGETED_ROUTES, frozenset())
    ):
        return await handler(request)
    try:
        await _spend(request)
    except RedisError:
        WRITE_BUDGET_UNCHECKED.inc()
        log.warning("write_budget.unchecked", exc_info=True)
    return await handler(request)


async def _spend(request: web.Request) -> None:
    svc = services_of(request)
    limits, limiter = svc.settings, svc.limiter
    principal = principal_of(request)
    # Own budget first: a caller refused by it does not also spend everyone's.
    if principal is not None:
        await limiter.hit_or_raise(
            limits.limit_writes_per_account, "writes-account", str(principal.user_id)
        )
    else:
        await limiter.hit_or_raise(
            limits.limit_writes_per_address,
            "writes-address",
            client_address(request, limits.trusted_proxies),
        )
    await limiter.hit_or_raise(limits.limit_writes_global, "writes-global")
