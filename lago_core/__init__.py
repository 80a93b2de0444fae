"""Shared core of Lago: settings, pools, identity, communities and other domain services.

Everything here is imported by ``lago_rest``, ``lago_rt`` and ``workers``; nothing here imports them.
"""
