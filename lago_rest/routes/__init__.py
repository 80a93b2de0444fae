"""Endpoint groups; each module exposes an ``api`` registry that ``lago_rest.app`` includes."""
