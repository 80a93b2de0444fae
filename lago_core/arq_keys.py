"""The one adapter that puts arq's own keys inside the deployment's Redis prefix.

arq names its per-job keys (``arq:job:<id>``, ``arq:in-progress:<id>``, ``arq:result:<id>``,
``arq:retry:<id>``) and its abort set (``arq:abort``) from module constants that
``arq.connections``, ``arq.jobs`` and ``arq.worker`` import by name, and offers no option to
change them (only the queue name and the health-check key are parameters, and those we already
prefix). Two deployments on one Redis therefore shared these keys, and a key scan of a deployment
found keys outside its prefix (issue 16, item 7).

So this module rebinds those names in each arq module. That is process-wide: a Lago process serves
one deployment, and every path that talks to arq (the job queue, the worker, the health check)
calls :func:`use_deployment_prefix` first. arq is pinned exactly in pyproject.toml and
tests/test_private_members.py fails if an upgrade renames or stops using these constants.
"""

from __future__ import annotations

import types

import arq.connections
import arq.constants
import arq.jobs
import arq.worker

from lago_core.settings import Settings

__all__ = ["ARQ_KEY_CONSTANTS", "arq_key_prefix", "use_deployment_prefix"]

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
