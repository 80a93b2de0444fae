"""The scenarios of ``lago bench``, in the order ``lago bench all`` runs them.

A new scenario (group-buy joins, live streams, ...) is a module that defines a
:class:`lago_bench.scenario.Scenario` and one more entry here; the CLI, ``lago bench all``, the
combined table and JSON, and the targets summary pick it up without other changes.
"""

from __future__ import annotations

from lago_bench.failover import SCENARIO as FAILOVER
from lago_bench.fanout import SCENARIO as FANOUT
from lago_bench.groupbuy import SCENARIO as GROUPBUY
from lago_bench.idle import SCENARIO as IDLE
from lago_bench.live import SCENARIO as LIVE
from lago_bench.scenario import Scenario
from lago_bench.search import SCENARIO as SEARCH

__all__ = ["SCENARIOS"]

SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (FANOUT, IDLE, GROUPBUY, FAILOVER, LIVE, SEARCH)
}
