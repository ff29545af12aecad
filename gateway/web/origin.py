"""Whose page opens a WebSocket: a browser always says (``Origin``), and only the gateway's own pages may.

Cookies go with a WebSocket handshake whatever page starts it, so without this
check any site a master visits could open the status socket with the master's
login (cross-site WebSocket hijacking) and read the names on the tiles. A
client that sends no Origin is not a browser, and carries only what it was given.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_WEB = {"ws": "http", "wss": "https"}


def _normal(scheme: str, host: str, port: int | None) -> str:
    scheme = _WEB.get(scheme, scheme)
    return f"{scheme}://{host.lower()}:{port or _DEFAULT_PORTS.get(scheme, 0)}"


def origin_allowed(connection: HTTPConnection, allowed: list[str]) -> bool:
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    try:
        parts = urlsplit(origin)
        claimed = _normal(parts.scheme, parts.hostname or "", parts.port)
    except ValueError:
        return False
    url = connection.url
    own = _normal(url.scheme, url.hostname or "", url.port)
    listed = set()
    for item in allowed:
        entry = urlsplit(item)
        listed.add(_normal(entry.scheme, entry.hostname or "", entry.port))
    return claimed == own or claimed in listed
