"""A resident's neighbourhood: their own communities, then neighbouring ones by GeoHash distance.

Neighbours are found through the GeoHash index (the cells around each home community's cell at a
precision whose cells are wider than the radius) and measured by the haversine distance between
the communities' GeoHashes; those beyond ``LAGO_AI_NEIGHBOUR_RADIUS_M`` are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import pygeohash

from lago_core.ai.store import AiStore

__all__ = ["MAX_RADIUS_M", "Neighbourhood", "Place", "neighbourhood_of"]

# The narrower side of a GeoHash cell by precision, in metres, at 47°N (Harbin; cells narrow
# towards the poles, so this holds for nearly all of China): a cell and its eight neighbours then
# reach at least this far from any point of the centre cell. LAGO_AI_NEIGHBOUR_RADIUS_M is capped
# at the largest.
_CELL_M = {4: 19_500, 5: 3_000, 6: 600}
MAX_RADIUS_M = max(_CELL_M.values())


@dataclass(frozen=True, slots=True)
class Place:
    community_id: UUID
    name: str
    distance_m: float  # 0 for a home community
    home: bool


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    places: dict[UUID, Place]

    @property
    def home_ids(self) -> list[UUID]:
        return [p.community_id for p in self.places.values() if p.home]

    @property
    def ids(self) -> list[UUID]:
        return list(self.places)

    def nearest(self, community_ids: list[UUID]) -> Place | None:
        known = [self.places[c] for c in community_ids if c in self.places]
        return min(known, key=lambda p: (not p.home, p.distance_m), default=None)


def _cells(geohash: str, precision: int) -> list[str]:
    centre = geohash[:precision]
    cells = {centre}
    for vertical in ("top", "bottom", None):
        row = pygeohash.get_adjacent(centre, vertical) if vertical else centre
        cells.add(row)
        cells.add(pygeohash.get_adjacent(row, "left"))
        cells.add(pygeohash.get_adjacent(row, "right"))
    return sorted(cells)


async def neighbourhood_of(store: AiStore, user_id: UUID, radius_m: int) -> Neighbourhood:
    homes = await store.home_communities(user_id)
    places = {r["id"]: Place(r["id"], r["name"], 0.0, True) for r in homes}
    if radius_m <= 0 or not homes:
        return Neighbourhood(places)
    precision = max((p for p, size in _CELL_M.items() if size >= radius_m), default=4)
    cells = sorted({cell for r in homes for cell in _cells(r["geohash"], precision)})
    for row in await store.communities_in_cells(cells, precision):
        if row["id"] in places:
            continue
        distance = min(
            pygeohash.geohash_haversine_distance(home["geohash"], row["geohash"]) for home in homes
        )
        if distance <= radius_m:
            places[row["id"]] = Place(row["id"], row["name"], distance, False)
    return Neighbourhood(places)
