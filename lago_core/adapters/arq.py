"""arq's private and undocumented members, reached only here (arq is pinned exactly).

Why each one is needed:

- The key-name constants ``job_key_prefix``, ``in_progress_key_prefix``, ``result_key_prefix``,
  ``retry_key_prefix`` and ``abort_jobs_ss``, which ``arq.connections``, ``arq.jobs`` and
  ``arq.worker`` import by name from ``arq.constants``. arq names its per-job keys
  (``arq:job:<id>``, ``arq:in-progress:<id>``, ``arq:result:<id>``, ``arq:retry:<id>``) and its
  abort set (``arq:abort``) from them and offers no option to change them (only the queue name and
  the health-check key are parameters, and those we already prefix). Two deployments on one Redis
  therefore shared these keys, and a key scan of a deployment found keys outside its prefix
  (issue 16, item 7). :func:`use_deployment_prefix` rebinds them in each arq module. That is
  process-wide: a Lago process serves one deployment, and every path that talks to arq (the job
  queue, the worker, the health check) calls it first.
- ``Worker._pool``: ``Worker.main`` makes the Redis pool itself and gives up after arq's
  connection attempts. :meth:`ArqWorker.connect` makes the same pool ahead of ``main``, so our
  worker can wait for Redis for as long as it takes (issue 16, item 7).
- ``Worker._poll_iteration``: one pass of arq's poll loop, called by ``main``. It is the only
  place where a failed poll can be caught without ending ``main``, and where a burst run can be
  told to stop once nothing is *due*. Overridden here and offered as :meth:`ArqWorker.poll_iteration`.
- ``Worker._jobs_started``: how many jobs this worker started; ``main`` ends a burst run once
  ``max_burst_jobs`` reaches it. Offered as :meth:`ArqWorker.jobs_started`.
- ``Worker._release_sem_dec_counter_on_complete``: gives back the job slot (semaphore and counter)
  that ``start_jobs`` takes before its Redis calls. Offered as :meth:`ArqWorker.release_job_slot`.

``workers/worker.py`` builds on :class:`ArqWorker` with public names only (it also overrides
arq's public but undocumented ``start_jobs`` and ``run_cron``). tests/test_private_members.py
checks every member named here against the pinned arq.
"""

from __future__ import annotations

import types

import arq.connections
import arq.constants
import arq.jobs
import arq.worker
from arq.connections import create_pool

from lago_core.settings import Settings

__all__ = ["ARQ_KEY_CONSTANTS", "ArqWorker", "arq_key_prefix", "use_deployment_prefix"]

# arq's constant name -> what follows the prefix (arq's own value without its "arq:").
ARQ_KEY_CONSTANTS: dict[str, str] = {
    "job_key_prefix": "job:",
    "in_progress_key_prefix": "in-progress:",
    "result_key_prefix": "result:",
    "retry_key_prefix": "retry:",
    "abort_jobs_ss": "abort",
}

_MODULES: tuple[types.ModuleType, ...] = (arq.constants, arq.connections, arq.jobs, arq.worker)


def arq_key_prefix(settings: Settings) -> str:
    """Where every arq key of this deployment starts: ``<LAGO_REDIS_PREFIX>arq:``."""
    return settings.key("arq", "")


def use_deployment_prefix(settings: Settings) -> None:
    """Make arq read and write its job keys under this deployment's prefix (idempotent)."""
    base = arq_key_prefix(settings)
    for module in _MODULES:
        for name, suffix in ARQ_KEY_CONSTANTS.items():
            # Only the names a module imported: arq.jobs has no retry prefix, for example.
            if hasattr(module, name):
                setattr(module, name, base + suffix)


class ArqWorker(arq.worker.Worker):
    """arq's ``Worker`` with the private members a subclass needs behind public names."""

    @property
    def connected(self) -> bool:
        """Whether the worker has its Redis pool (``main`` would make one otherwise)."""
        return self._pool is not None

    async def connect(self) -> None:
        """Make the Redis pool exactly as ``Worker.main`` would, for ``main`` to use.

        Raises what ``create_pool`` raises once arq's attempts (``redis_settings.conn_retries``)
        are spent, and then the worker has no pool yet.
        """
        self._pool = await create_pool(
            self.redis_settings,
            job_deserializer=self.job_deserializer,
            job_serializer=self.job_serializer,
            default_queue_name=self.queue_name,
            expires_extra_ms=self.expires_extra_ms,
        )

    async def _poll_iteration(self) -> None:
        await self.poll_iteration()

    async def poll_iteration(self) -> None:
        """One pass of arq's poll loop (start due jobs, abort, reap finished tasks); ``main``
        calls it every ``poll_delay``. Override to wrap it, calling ``super().poll_iteration()``."""
        await super()._poll_iteration()

    def jobs_started(self) -> int:
        """Jobs this worker started: completed, retried, failed and running."""
        count: int = self._jobs_started()
        return count

    def release_job_slot(self) -> None:
        """Give back the slot ``start_jobs`` took for a job that then did not start."""
        self._release_sem_dec_counter_on_complete()
