"""The real-time node: python-socketio on aiohttp, hosting community channel gateways."""

from lago_rt.app import create_rt_app

__all__ = ["create_rt_app"]
