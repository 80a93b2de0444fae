"""Create N verified resident accounts in the demo community for the load tests.

Runs through Lago's own services (like ``lago seed-demo``), so every rule applies, and is safe to
run twice: accounts and memberships that already exist are reused. Run ``lago seed-demo`` first;
the residents join its community (翠湖花园) and are verified by its property staff account.

    python loadtests/make_users.py --count 50 --out loadtests/users.txt

It reads the same environment as the ``lago`` processes (``DATABASE_URL``, ``REDIS_URL``,
``LAGO_REDIS_PREFIX``, ...) and writes one phone number per line to ``--out``; the locustfile
reads that file (``LAGO_LOAD_USERS_FILE``); ``--out -`` writes them to stdout instead (for
``docker compose exec -T rest python - --out - < loadtests/make_users.py > loadtests/users.txt``). Every account's password is ``LAGO_DEMO_PASSWORD``
(default ``lago-demo-2026``, as for the demo accounts).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from uuid import UUID

from lago_cli.demo import COMMUNITY, DEMO_ACCOUNTS
from lago_core.container import Core, build_core
from lago_core.errors import Conflict
from lago_core.phones import normalise_phone
from lago_core.security.roles import MemberStatus, Principal
from lago_core.settings import Settings

MAX_COUNT = 1000
# 139 0100 nnnn: a block well away from the demo accounts (139 0000 00nn).
PHONE_PREFIX = "1390100"


def phone_of(index: int) -> str:
    return f"{PHONE_PREFIX}{index:04d}"


async def _user_id(core: Core, phone: str) -> UUID:
    row = await core.identity._store.user_by_phone(normalise_phone(phone))
    if row is None:
        raise SystemExit(f"make_users: no account {phone}; run `lago seed-demo` first")
    return UUID(str(row["id"]))


async def make_users(count: int, password: str) -> list[str]:
    core = await build_core(Settings.from_env())
    try:
        name, address, _, _ = COMMUNITY
        community_id = await core.pool.fetchval(
            "SELECT id FROM communities WHERE name = $1 AND address = $2", name, address
        )
        if community_id is None:
            raise SystemExit(
                "make_users: the demo community is missing; run `lago seed-demo` first"
            )
        staff_phone = DEMO_ACCOUNTS["property"][0]
        staff = Principal(
            user_id=await _user_id(core, staff_phone), session_id=UUID(int=0), platform_role=None
        )
        phones: list[str] = []
        created = 0
        for i in range(1, count + 1):
            phone = phone_of(i)
            try:
                view = await core.identity.create_user(phone, password, f"压测住户{i:04d}", None)
                user_id = view.id
                created += 1
            except Conflict:
                user_id = await _user_id(core, phone)
            resident = Principal(user_id=user_id, session_id=UUID(int=0), platform_role=None)
            membership = await core.communities.request_to_join(
                resident, community_id, f"load-{i:04d}", None
            )
            if membership["status"] != MemberStatus.VERIFIED.value:
                await core.communities.decide(
                    staff, community_id, user_id, MemberStatus.VERIFIED, None
                )
            phones.append(phone)
        print(
            f"{len(phones)} verified residents of {name} ({community_id}), {created} new",
            file=sys.stderr,
        )
        return phones
    finally:
        await core.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", "-n", type=int, default=20, help=f"1..{MAX_COUNT} (default 20)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "users.txt",
        help="where to write the phone numbers, - for stdout (default loadtests/users.txt)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.count <= MAX_COUNT:
        parser.error(f"--count must be between 1 and {MAX_COUNT}")
    password = os.environ.get("LAGO_DEMO_PASSWORD", "lago-demo-2026")
    phones = asyncio.run(make_users(args.count, password))
    text = "".join(f"{p}\n" for p in phones)
    if str(args.out) == "-":
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        print(f"phones in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
