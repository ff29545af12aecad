"""Check the TLS files a daemon's ``[broker.tls]`` names, the way its MQTT client will load them.

Both ``check`` commands use this, so a missing, unreadable or non-PEM file is named with its key
before the daemon starts, instead of failing inside the TLS library at the first connection.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from plumbing.tomlconfig import Problem

_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
_PRIVATE_KEY = b"PRIVATE KEY-----"


def problems(
    config_file: Path,
    *,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
    section: str = "broker.tls",
) -> list[Problem]:
    """Every problem with the files, each naming the configuration file and the key."""
    found: list[Problem] = []

    def problem(key: str, path: Path, expected: str) -> None:
        found.append(Problem(str(config_file), f"{section}.{key}", repr(str(path)), expected))

    contents: dict[str, bytes] = {}
    for key, path in (("ca_file", ca_file), ("cert_file", cert_file), ("key_file", key_file)):
        if path is None:
            continue
        data, reason = _read(path)
        if reason:
            problem(key, path, reason)
        else:
            contents[key] = data
    if ca_file is not None and "ca_file" in contents:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except ssl.SSLError as err:
            problem("ca_file", ca_file, f"expected a PEM CA certificate; {_reason(err)}")
    if key_file is not None and cert_file is None:
        problem("key_file", key_file, f"set {section}.cert_file too: a private key alone is not used")
    if cert_file is not None and "cert_file" in contents:
        if _CERTIFICATE not in contents["cert_file"]:
            problem("cert_file", cert_file, "expected a PEM certificate (no BEGIN CERTIFICATE line)")
        elif key_file is not None and "key_file" in contents and _PRIVATE_KEY not in contents["key_file"]:
            problem("key_file", key_file, "expected a PEM private key (no BEGIN ... PRIVATE KEY line)")
        elif key_file is None or "key_file" in contents:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            try:
                # An encrypted key would make OpenSSL ask for a password on the terminal: refuse it instead.
                context.load_cert_chain(str(cert_file), str(key_file) if key_file else None, password=b"")
            except ssl.SSLError as err:
                problem("cert_file", cert_file, f"expected a certificate and its unencrypted key; {_reason(err)}")
    return found


def _read(path: Path) -> tuple[bytes, str]:
    try:
        return path.read_bytes(), ""
    except FileNotFoundError:
        return b"", "file not found"
    except IsADirectoryError:
        return b"", "is a directory, expected a PEM file"
    except PermissionError:
        return b"", "file not readable (permission denied)"
    except OSError as err:
        return b"", f"file not readable: {err.strerror or err}"


def _reason(err: ssl.SSLError) -> str:
    reason = getattr(err, "reason", None)
    return f"OpenSSL says: {str(reason).lower().replace('_', ' ')}" if reason else f"OpenSSL says: {err}"
