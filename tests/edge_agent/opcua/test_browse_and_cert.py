"""``atelier edge browse`` and ``atelier edge cert``."""

from __future__ import annotations

import stat

import pytest
from cryptography import x509

from atelier.broker import free_port
from edge_agent import profiles
from edge_agent.browse import browse, browse_main
from edge_agent.certs import cert_main


@pytest.mark.slow  # browses a whole real server
async def test_browse_prints_the_tree_and_writes_a_loadable_profile_skeleton(cnc_factory, tmp_path, capsys):
    cnc = await cnc_factory()
    target = tmp_path / "new-control.toml"
    assert await browse(cnc.endpoint, None, 8, target) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "progStatus" in line)
    assert line.startswith("        progStatus  [Variable]")  # four levels under Objects
    assert "nsu=SinumerikVarProvider;s=/Channel/State/progStatus  Int32 = 5" in line

    profile = profiles.load(str(target))
    assert profile.options["nodes"]["progStatus"] == "nsu=SinumerikVarProvider;s=/Channel/State/progStatus"
    assert profile.signals["execution"].source == "progStatus"
    assert profile.signals["part_count"].source == "actParts"
    assert profile.profile.verified is False


@pytest.mark.slow  # browses a real server
async def test_browse_a_subtree_of_a_machine_tool(cnc_factory, capsys):
    cnc = await cnc_factory(shape="machine_tool")
    assert await browse(cnc.endpoint, "nsu=http://opcfoundation.org/UA/Machinery/;i=1001", 2, None) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("Machines  nsu=http://opcfoundation.org/UA/Machinery/;i=1001")
    assert "  SimMill  [Object]" in out
    assert "Monitoring" in out
    assert "ChannelState" not in out  # deeper than two levels


def test_browse_unreachable_server_is_a_clear_error(capsys):
    assert browse_main(f"opc.tcp://127.0.0.1:{free_port()}", None, 3, None) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot connect to opc.tcp://127.0.0.1:")
    assert "connection refused" in err
    assert "Traceback" not in err


def test_browse_rejects_what_is_not_an_endpoint(capsys):
    assert browse_main("http://127.0.0.1:4840", None, 3, None) == 2
    assert "not an OPC UA endpoint" in capsys.readouterr().err


def test_cert_writes_a_certificate_with_the_application_uri_and_a_private_key(tmp_path, capsys):
    assert cert_main(tmp_path / "pki", application_uri="urn:school:edge", common_name="Atelier", days=30) == 0
    cert = x509.load_der_x509_certificate((tmp_path / "pki" / "cert.der").read_bytes())
    uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "urn:school:edge" in uris.get_values_for_type(x509.UniformResourceIdentifier)
    assert stat.S_IMODE((tmp_path / "pki" / "key.pem").stat().st_mode) == 0o600
    assert "SHA-256" in capsys.readouterr().out

    assert cert_main(tmp_path / "pki", days=30) == 2  # never overwrite a key by accident
    assert "--force" in capsys.readouterr().err
    assert cert_main(tmp_path / "pki", days=30, force=True) == 0
