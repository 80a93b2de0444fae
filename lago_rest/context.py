"""How handlers reach the application services and the authenticated caller."""

from __future__ import annotations

from aiohttp import web

from lago_core.container import Core
from lago_core.security.roles import Principal

__all__ = ["CORE", "PRINCIPAL", "Services", "principal_of", "services_of"]

# Handlers see the process's Core under this name.
Services = Core

CORE: web.AppKey[Core] = web.AppKey("core", Core)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)


def services_of(request: web.Request) -> Core:
    return request.app[CORE]


def principal_of(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)
