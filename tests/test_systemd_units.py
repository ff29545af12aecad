"""The shipped systemd units pass ``systemd-analyze verify`` and keep their promises."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "systemd"


@pytest.fixture
def installed_units(tmp_path: Path) -> Path:
    """The units with ExecStart pointing at this checkout's atelier, which verify requires to exist."""
    atelier = Path(sys.executable).parent / "atelier"
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace("/opt/atelier/bin/atelier", str(atelier))
        (tmp_path / unit.name).write_text(text)
    # A template is verified through one of its instances.
    shutil.copy(tmp_path / "atelier-edge@.service", tmp_path / "atelier-edge@pc1.service")
    return tmp_path


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_units_verify_clean(installed_units: Path) -> None:
    names = ["atelier-edge.service", "atelier-gateway.service", "atelier-edge@pc1.service"]
    result = subprocess.run(
        ["systemd-analyze", "verify", *names], cwd=installed_units, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


@pytest.mark.parametrize("name", ["atelier-edge.service", "atelier-edge@.service", "atelier-gateway.service"])
def test_units_are_hardened_daemons(name: str) -> None:
    text = (UNITS / name).read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "User=atelier",
        "ProtectSystem=strict",
        "StateDirectory=atelier/",
        "ConfigurationDirectory=atelier",
        "NoNewPrivileges=true",
    ):
        assert line in text, f"{name} lacks {line}"


def test_template_reads_its_instance_config() -> None:
    text = (UNITS / "atelier-edge@.service").read_text()
    assert "/etc/atelier/edge-%i.toml" in text
    assert "StateDirectory=atelier/edge-%i" in text
    assert "SupplementaryGroups=dialout" in text


def test_install_stages_units_and_examples(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "atelier", "install", "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    unit = (tmp_path / "etc/systemd/system/atelier-edge.service").read_text()
    assert f"ExecStart={Path(sys.executable).parent / 'atelier'} edge run" in unit
    assert (tmp_path / "etc/atelier/edge.toml.example").read_text().startswith("# Atelier edge agent")
    assert (tmp_path / "etc/atelier/gateway.toml.example").exists()
