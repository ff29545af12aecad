"""Secure channels with generated certificates, the server trust list and user names."""

from __future__ import annotations

import logging
import shutil
from typing import Any

import pytest

from edge_agent.certs import generate_certificate
from edge_agent.drivers import build
from edge_agent.drivers.opcua.security import UntrustedServerError
from edge_agent.errors import DriverError
from tests.edge_agent.opcua.conftest import SINUMERIK, options

NODES = {"progStatus": f"{SINUMERIK}/Channel/State/progStatus"}
USERS = {"atelier": "s3cret"}


@pytest.fixture
def pki(tmp_path):
    server = generate_certificate(
        tmp_path / "server", application_uri="urn:atelier:sim", common_name="sim", days=2, server=True
    )
    client = generate_certificate(tmp_path / "client", application_uri="urn:test:edge", common_name="edge", days=2)
    return {"server": server, "client": client, "trusted": tmp_path / "trusted"}


def secure(pki: dict[str, Any], policy: str = "Basic256Sha256", **extra: Any) -> dict[str, Any]:
    cert, key = pki["client"]
    return {
        "mode": "SignAndEncrypt",
        "policy": policy,
        "certificate": str(cert),
        "private_key": str(key),
        "trust_dir": str(pki["trusted"]),
        **extra,
    }


@pytest.mark.slow  # OPC UA servers with encryption
@pytest.mark.parametrize("policy", ["Basic256Sha256", "Aes256_Sha256_RsaPss"])
async def test_sign_and_encrypt_with_a_trusted_server_and_a_user(cnc_factory, readers, pki, policy):
    cnc = await cnc_factory(certificate=pki["server"][0], private_key=pki["server"][1], users=USERS)
    pki["trusted"].mkdir()
    shutil.copy(pki["server"][0], pki["trusted"] / "sim.der")
    opts = options(cnc.endpoint, NODES, security=secure(pki, policy), username="atelier", password="s3cret")
    reader = readers(build("opcua", machine_id="m1", options=opts, profile=None))
    await reader.until(lambda: len(reader.batches) >= 1, "the first batch")
    await cnc.apply({"execution": "ACTIVE"})
    await reader.until(lambda: 3 in reader.values("progStatus"), "a change over the secure channel")


@pytest.mark.slow  # OPC UA servers with encryption
async def test_untrusted_server_is_refused_then_trusted_on_first_use_when_asked(cnc_factory, readers, pki, caplog):
    cnc = await cnc_factory(certificate=pki["server"][0], private_key=pki["server"][1], users=USERS)
    creds = {"username": "atelier", "password": "s3cret"}
    refused = readers(
        build(
            "opcua", machine_id="m1", options=options(cnc.endpoint, NODES, security=secure(pki), **creds), profile=None
        )
    )
    error = await refused.ended()
    assert isinstance(error, UntrustedServerError)
    assert "is not trusted" in str(error)
    assert str(pki["trusted"]) in str(error)
    assert list((pki["trusted"] / "rejected").glob("sim-*.der")), "the refused certificate is kept for review"

    caplog.set_level(logging.WARNING, logger="edge_agent.drivers.opcua.security")
    tofu = options(cnc.endpoint, NODES, security=secure(pki, trust_on_first_use=True), **creds)
    reader = readers(build("opcua", machine_id="m1", options=tofu, profile=None))
    await reader.until(lambda: len(reader.batches) >= 1, "the first batch")
    assert list(pki["trusted"].glob("sim-*.der")), "the certificate was stored in the trust folder"
    assert any("trust on first use" in r.getMessage() for r in caplog.records)


@pytest.mark.slow  # OPC UA servers with encryption
async def test_wrong_password_is_refused_with_a_clear_error(cnc_factory, readers, pki):
    cnc = await cnc_factory(users=USERS)
    opts = options(cnc.endpoint, NODES, username="atelier", password="wrong")
    reader = readers(build("opcua", machine_id="m1", options=opts, profile=None))
    error = await reader.ended()
    assert isinstance(error, DriverError)
    assert "BadUserAccessDenied" in str(error)

    good = readers(
        build(
            "opcua",
            machine_id="m1",
            options=options(cnc.endpoint, NODES, username="atelier", password="s3cret"),
            profile=None,
        )
    )
    await good.until(lambda: len(good.batches) >= 1, "the first batch with the right password")
