"""The jobs are one contract between the processes that enqueue them and the worker that runs
them (lago_core/jobs.py): names and arguments are defined once, and a disagreement is refused
before any job is queued or any worker starts."""

from __future__ import annotations

from typing import Any

import pytest

from lago_core.container import Core
from lago_core.jobs import JOBS, SUBMIT_REFUND, SWEEP_ORDERS, Job, check_worker_functions
from workers.worker import FUNCTIONS


def test_the_worker_runs_exactly_the_jobs_other_processes_enqueue() -> None:
    check_worker_functions(FUNCTIONS)
    assert {f.__name__ for f in FUNCTIONS} == {job.name for job in JOBS}


async def submit_refund(ctx: dict[str, Any], payment_id: str) -> None:
    """A worker function whose argument is not the one the Job names."""


async def stray(ctx: dict[str, Any]) -> None:
    """A worker function no Job names."""


def test_a_disagreement_is_refused_naming_it() -> None:
    with pytest.raises(TypeError, match=r"submit_refund: takes \('payment_id',\)"):
        check_worker_functions([submit_refund], [SUBMIT_REFUND])
    with pytest.raises(TypeError, match="stray: a worker function no Job"):
        check_worker_functions([stray], [])
    with pytest.raises(TypeError, match="sweep_orders: a Job no worker function runs"):
        check_worker_functions([], [SWEEP_ORDERS])


async def test_a_job_is_enqueued_with_its_arguments_or_not_at_all(core: Core) -> None:
    with pytest.raises(TypeError, match="submit_refund takes"):
        await core.jobs.enqueue(SUBMIT_REFUND)
    with pytest.raises(TypeError, match="sweep_orders takes"):
        await core.jobs.enqueue(SWEEP_ORDERS, "extra")
    assert await core.jobs.enqueue(Job("sweep_orders"), job_id="contract-test")
