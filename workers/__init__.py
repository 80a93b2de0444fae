"""arq workers: background jobs that must survive restarts and may run more than once."""

from workers.worker import create_worker, queue_name

__all__ = ["create_worker", "queue_name"]
