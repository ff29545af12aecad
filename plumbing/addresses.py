"""Network addresses in configuration files: a broker's host name, a ``host:port`` to listen on.

Validated when the file is read, so ``atelier edge check`` and ``atelier gateway check``
name the key of a URL pasted where a host name belongs, instead of a connection failing later.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

_HOST_NAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?$")


def _ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _check_host(value: str) -> str:
    if "://" in value:
        raise PydanticCustomError("host_is_url", 'a host name or IP address, not a URL: drop "scheme://"')
    if ":" in value and not _ipv6(value):
        raise PydanticCustomError(
            "host_has_port", "a host name or IP address without a port (the port has its own key)"
        )
    if ":" not in value and not _HOST_NAME.match(value):
        raise PydanticCustomError("host_name", 'a host name or IP address, such as "mqtt.school" or "192.168.1.10"')
    return value


def parse_listen(value: str) -> tuple[str, int]:
    """``"127.0.0.1:9101"`` or ``"[::1]:9101"`` to (host, port); raises ValueError."""
    host, sep, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if not _ipv6(host):
            raise ValueError(value)
    elif not sep or not _HOST_NAME.match(host):
        raise ValueError(value)
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(value)
    return host, int(port)


def _check_listen(value: str) -> str:
    try:
        parse_listen(value)
    except ValueError:
        raise PydanticCustomError(
            "listen_address", 'host:port with a port from 1 to 65535, such as "127.0.0.1:9101"'
        ) from None
    return value


HostName = Annotated[str, AfterValidator(_check_host)]
ListenAddress = Annotated[str, AfterValidator(_check_listen)]
