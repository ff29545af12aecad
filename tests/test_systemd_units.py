"""The shipped systemd units pass ``systemd-analyze verify`` and keep their promises."""

from __future__ import annotations

import re
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


def _lines(name: str, present: tuple[str, ...], absent: tuple[str, ...] = ()) -> None:
    text = (UNITS / name).read_text()
    assert [line for line in present if line not in text] == [], f"{name} lacks these"
    assert [line for line in absent if line in text] == [], f"{name} has these"


@pytest.mark.parametrize("name", ["atelier-edge.service", "atelier-edge@.service", "atelier-gateway.service"])
def test_units_are_hardened_daemons(name: str) -> None:
    _lines(
        name,
        (
            "Type=notify",
            "WatchdogSec=",
            "Restart=on-failure",
            "RestartPreventExitStatus=2",
            "User=atelier",
            "ProtectSystem=strict",
            "StateDirectory=atelier/",
            "ConfigurationDirectory=atelier",
            "NoNewPrivileges=true",
        ),
    )


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
    # Configurations hold passwords: readable by root and the service's group only.
    assert (tmp_path / "etc/atelier").stat().st_mode & 0o777 == 0o750
    for example in (tmp_path / "etc/atelier").iterdir():
        assert example.stat().st_mode & 0o777 == 0o640, example
    for installed in (tmp_path / "etc/systemd/system").iterdir():
        assert installed.stat().st_mode & 0o777 == 0o644, installed


def _exposure(unit_dir: Path, name: str) -> float:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", name],
        cwd=unit_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    return float(found.group(1))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("name", ["atelier-edge.service", "atelier-edge@pc1.service", "atelier-gateway.service"])
def test_units_are_exposed_at_3_or_less(installed_units: Path, name: str) -> None:
    """`systemd-analyze security` reads the unit files offline (no running systemd needed)."""
    assert _exposure(installed_units, name) <= 3.0


@pytest.mark.parametrize("name", ["atelier-edge.service", "atelier-edge@.service"])
def test_the_agent_keeps_its_serial_ports_and_the_network(name: str) -> None:
    serial_and_network = (
        "SupplementaryGroups=dialout",
        "DevicePolicy=closed",
        "DeviceAllow=char-ttyUSB rw",
        "DeviceAllow=char-ttyACM rw",
        "DeviceAllow=char-ttyS rw",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    )
    # Each of these would take the serial adapters, the group that opens them or the network away.
    _lines(name, serial_and_network, ("PrivateDevices=true", "PrivateUsers=true", "PrivateNetwork=", "IPAddressDeny="))


@pytest.mark.parametrize("name", ["atelier-edge.service", "atelier-edge@.service", "atelier-gateway.service"])
def test_units_keep_files_private_and_the_network_open(name: str) -> None:
    private = ("UMask=0077", "StateDirectoryMode=0700", "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service")
    _lines(name, private, ("PrivateNetwork=", "IPAddressDeny="))


@pytest.mark.parametrize("syscall", ["ioctl", "flock", "fcntl", "socket", "connect", "bind", "accept4", "clone3"])
@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_syscall_filter_keeps_what_serial_ports_sockets_and_threads_need(syscall: str) -> None:
    """termios and exclusive locks on the serial port, sockets, threads: all in @system-service, none denied after."""
    groups = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True, check=True).stdout
    members: dict[str, set[str]] = {}
    current = ""
    for line in groups.splitlines():
        word = line.strip().split(" ")[0]
        if line.startswith("@"):
            current = word
            members[current] = set()
        elif word and not word.startswith("#") and current:
            members[current].add(word)

    def expand(group: str) -> set[str]:
        found: set[str] = set()
        for item in members.get(group, set()):
            found |= expand(item) if item.startswith("@") else {item}
        return found

    allowed = expand("@system-service") | expand("@default")
    denied = expand("@privileged") | expand("@resources")
    assert syscall in allowed
    assert syscall not in denied


MDWE = """
import ctypes, os, pty, sys, tempfile, ssl
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit(77)
import mmap
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    sys.exit("write+execute memory was not refused")
except OSError:
    pass
import argon2, serial, asyncua, psycopg, paho.mqtt.client, uvicorn, reportlab.platypus
import gateway.app, edge_agent.app
from cryptography.hazmat.primitives.asymmetric import ec
from gateway.store import db
argon2.PasswordHasher().hash("a password")
ec.generate_private_key(ec.SECP256R1())
ssl.create_default_context()
folder = tempfile.mkdtemp()
db.upgrade(f"sqlite:///{folder}/g.db")
main, other = pty.openpty()
port = serial.Serial(os.ttyname(other), 115200, timeout=0.1, exclusive=True)
os.write(main, b"ok\\n")
assert port.readline() == b"ok\\n"
print("fine")
"""


@pytest.mark.slow  # both daemons as processes
def test_the_daemons_work_without_writable_executable_memory() -> None:
    """MemoryDenyWriteExecute=true, tried for real: the kernel's own switch (prctl PR_SET_MDWE, which systemd
    uses where the kernel has it) set before the daemons' libraries load and do their work."""
    result = subprocess.run([sys.executable, "-c", MDWE], capture_output=True, text=True, check=False, timeout=120)
    if result.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3 or later)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "fine"
