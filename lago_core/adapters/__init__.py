"""The only modules that reach into other libraries' private or undocumented members.

One module per library, each library pinned exactly in pyproject.toml, each member checked by
tests/test_private_members.py; tests/test_no_private_members.py fails when code outside this
package reaches a library's private member. docs/architecture.md ("Private members of libraries")
says why each member is used. The modules import their library, so nothing is imported here.

- :mod:`lago_core.adapters.arq` — the worker's poll loop and job slots, arq's key names.
- :mod:`lago_core.adapters.aiohttp` — the REST runner's answer to unparseable requests.
- :mod:`lago_core.adapters.aiortc` — the encoded-frame relay's tap, keyframes and codecs.
- :mod:`lago_core.adapters.aioice` — the local addresses ICE gathers host candidates on.
- :mod:`lago_core.adapters.redis` — sharded pub/sub on redis-py 5's ``PubSub``.
"""
