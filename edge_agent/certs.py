"""``atelier edge cert``: a self-signed OPC UA application certificate and key for the edge agent.

OPC UA servers identify a client by its application instance certificate: the
control's administrator adds ``cert.der`` to the control's trusted clients, and
the agent's profile points ``options.security.certificate`` and
``private_key`` at the two files.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from asyncua.crypto import cert_gen
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from edge_agent.drivers.opcua.security import fingerprint

CERT_NAME = "cert.der"
KEY_NAME = "key.pem"


def default_application_uri() -> str:
    return f"urn:{socket.gethostname()}:atelier:edge-agent"


def generate_certificate(
    out_dir: Path, *, application_uri: str, common_name: str, days: int, server: bool = False
) -> tuple[Path, Path]:
    """Write ``cert.der`` and ``key.pem`` (mode 0600) into ``out_dir``; return their paths.

    ``server=True`` marks the certificate for server use as well (the simulators use it).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    key = cert_gen.generate_private_key()
    host = socket.gethostname()
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri), x509.DNSName(host)]
    if host != "localhost":
        names.append(x509.DNSName("localhost"))
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] + ([ExtendedKeyUsageOID.SERVER_AUTH] if server else [])
    cert = cert_gen.generate_self_signed_app_certificate(key, common_name, {}, names, usages, days=days)
    cert_path, key_path = out_dir / CERT_NAME, out_dir / KEY_NAME
    cert_path.write_bytes(cert.public_bytes(Encoding.DER))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(cert_gen.dump_private_key_as_pem(key))
    return cert_path, key_path


def cert_main(
    out_dir: Path,
    *,
    application_uri: str | None = None,
    common_name: str = "Atelier edge agent",
    days: int = 3650,
    force: bool = False,
) -> int:
    """The CLI command; returns the exit status (2 for bad input)."""
    if days < 1:
        print("error: --days must be at least 1", file=sys.stderr)
        return 2
    existing = [p for p in (out_dir / CERT_NAME, out_dir / KEY_NAME) if p.exists()]
    if existing and not force:
        print(f"error: {existing[0]} already exists; use --force to replace it", file=sys.stderr)
        return 2
    uri = application_uri or default_application_uri()
    try:
        cert_path, key_path = generate_certificate(out_dir, application_uri=uri, common_name=common_name, days=days)
    except OSError as err:
        print(f"error: cannot write into {out_dir}: {err.strerror or err}", file=sys.stderr)
        return 1
    cert = x509.load_der_x509_certificate(cert_path.read_bytes())
    print(f"certificate: {cert_path}")
    print(f"private key: {key_path}")
    print(f"application URI: {uri}")
    print(f"valid until: {cert.not_valid_after_utc:%Y-%m-%d}")
    print(f"SHA-256: {fingerprint(cert)}")
    print("Next: add the certificate to the control's trusted client certificates, and in the profile or machine")
    print(f'options set security = {{ mode = "SignAndEncrypt", certificate = "{cert_path}",')
    print(f'private_key = "{key_path}", trust_dir = "<folder of trusted server certificates>" }}.')
    return 0
