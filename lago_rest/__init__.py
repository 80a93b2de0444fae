"""The REST companion: CRUD, auth and commerce over aiohttp, documented by OpenAPI."""

from lago_rest.app import create_app

__all__ = ["create_app"]
