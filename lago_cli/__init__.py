"""The ``lago`` command: run each process, migrate, seed demo data, or run everything for development."""

from lago_cli.main import main

__all__ = ["main"]
