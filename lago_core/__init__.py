"""Shared core of Lago: settings, pools, identity, communities and other domain services.

Everything here is imported by ``lago_rest``, ``lago_rt`` and ``workers``; nothing here imports them.
"""

import os

# Native thread pools, set here because every entry point imports lago_core before numpy or the
# embedding model load, and each pool reads its setting once, when its library loads. An
# operator's setting wins. One thread each (docs/ai.md, "Search latency"): on a shared two-core
# machine a second OpenBLAS thread spins after each matrix product and took a core from the next
# query's embedding (first-seen search p95 72–88 ms with numpy's default of a thread per core,
# 35–52 ms with one, at load 2.4–3.5), and a second OpenMP thread in the model stalls at every
# barrier when the other core is busy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
