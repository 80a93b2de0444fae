"""The names a browser session travels under (docs/architecture.md, "Browser sessions").

Shared by the REST API, which sets the cookies, and the real-time node, which reads the access
cookie at its handshake: browsers send a host's cookies to every port of that host, so the page
served by REST reaches the node on its own port with the same cookie.
"""

from __future__ import annotations

__all__ = [
    "ACCESS_COOKIE",
    "COOKIE_SESSION",
    "REFRESH_COOKIE",
    "REFRESH_COOKIE_PATH",
    "SESSION_MODE_HEADER",
]

# The access token: sent with every request to the host (Path=/).
ACCESS_COOKIE = "lago_access"
# The refresh token: sent only where it is used, the account endpoints.
REFRESH_COOKIE = "lago_refresh"
REFRESH_COOKIE_PATH = "/api/v1/auth"
# A request header that asks log-in, sign-up and refresh for a cookie session instead of tokens
# in the body; its one value.
SESSION_MODE_HEADER = "X-Lago-Session"
COOKIE_SESSION = "cookie"
