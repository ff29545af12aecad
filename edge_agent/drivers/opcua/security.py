"""OPC UA security for the driver: policies, client certificate, server trust list, user and password.

A server certificate is trusted when it (or the CA that signed it) is in the
trust folder. An unknown one is refused and stored under ``rejected/`` so that
a workshop master can inspect it and move it into the folder; trusting on first
use is an explicit option and is logged each time it stores a certificate.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto import security_policies
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

from edge_agent.drivers.opcua.options import OpcUaOptions, SecurityOptions
from edge_agent.errors import DriverError

logger = logging.getLogger(__name__)

CERT_SUFFIXES = (".der", ".pem", ".crt", ".cer")


class UntrustedServerError(DriverError):
    """The server's certificate is not in the trust list."""


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a DER or PEM file (a PEM file may hold several)."""
    data = path.read_bytes()
    if b"-----BEGIN CERTIFICATE-----" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


class TrustList:
    """Validates server certificates against a folder; asyncua calls it during CreateSession."""

    def __init__(self, directory: Path, *, trust_on_first_use: bool) -> None:
        self.directory = directory
        self.trust_on_first_use = trust_on_first_use

    def trusted(self) -> list[x509.Certificate]:
        certs: list[x509.Certificate] = []
        if not self.directory.is_dir():
            return certs
        for path in sorted(self.directory.iterdir()):
            if path.is_file() and path.suffix.lower() in CERT_SUFFIXES:
                try:
                    certs.extend(load_certificates(path))
                except ValueError:
                    logger.warning("trust list: %s is not a certificate; ignored", path)
        return certs

    def is_trusted(self, cert: x509.Certificate) -> bool:
        der = cert.public_bytes(Encoding.DER)
        for known in self.trusted():
            if known.public_bytes(Encoding.DER) == der:
                return True
            if known.subject == cert.issuer and _issued_by(cert, known):
                return True
        return False

    async def __call__(self, cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        if self.is_trusted(cert):
            return
        name = _file_name(cert)
        if self.trust_on_first_use:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / name).write_bytes(cert.public_bytes(Encoding.DER))
            logger.warning(
                "trust on first use: trusting server certificate %s (%s, SHA-256 %s), stored as %s",
                cert.subject.rfc4514_string(),
                app.ApplicationUri,
                fingerprint(cert),
                self.directory / name,
            )
            return
        rejected = self.directory / "rejected"
        rejected.mkdir(parents=True, exist_ok=True)
        (rejected / name).write_bytes(cert.public_bytes(Encoding.DER))
        raise UntrustedServerError(
            f"server certificate {cert.subject.rfc4514_string()} (SHA-256 {fingerprint(cert)}) is not trusted; "
            f"it was saved to {rejected / name}: check it and move it into {self.directory} to trust it"
        )


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _file_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    common = str(names[0].value) if names else "server"
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', common)}-{fingerprint(cert)[:16]}.der"


def application_uri_of(path: Path) -> str | None:
    """The URI in a certificate's SubjectAlternativeName: the client must announce exactly this one."""
    cert = load_certificates(path)[0]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


async def apply(client: Client, options: OpcUaOptions) -> None:
    """Configure user, password and the secure channel on a client that is not connected yet."""
    if options.username is not None and options.password is not None:
        client.set_user(options.username)
        client.set_password(options.password)
    security = options.security
    if security.mode == "None":
        return
    # SecurityOptions checked these for every mode but None.
    assert security.certificate is not None
    assert security.private_key is not None
    assert security.trust_dir is not None
    for path in (security.certificate, security.private_key):
        if not path.is_file():
            raise DriverError(f"security file {path} does not exist (generate one with 'atelier edge cert')")
    if security.trust_on_first_use:
        logger.warning("trust on first use is on: an unknown server certificate will be trusted and stored")
    client.application_uri = security.application_uri or application_uri_of(security.certificate) or ""
    client.certificate_validator = TrustList(security.trust_dir, trust_on_first_use=security.trust_on_first_use)
    await client.set_security(
        policy_class(security),
        certificate=str(security.certificate),
        private_key=str(security.private_key),
        private_key_password=security.private_key_password,
        mode=getattr(ua.MessageSecurityMode, security.mode),
    )


def policy_class(security: SecurityOptions) -> type[security_policies.SecurityPolicy]:
    cls: type[security_policies.SecurityPolicy] = getattr(
        security_policies, "SecurityPolicy" + security.policy.replace("_", "")
    )
    return cls
