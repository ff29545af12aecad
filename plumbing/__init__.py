"""Plumbing both daemons use: configuration loading, addresses, Prometheus text, sd_notify, TLS files, one log format.

A leaf: it imports neither daemon nor the top (``atelier``); both daemons and the top import it.
"""

__version__ = "0.1.0"
