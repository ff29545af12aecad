"""``atelier install``: put the systemd units, the service user and example configurations in place.

Run as root on a workshop PC or the school server. ``--root`` installs into a
staging folder instead (no user created, systemd not reloaded), which is also
how the tests check it.

Configurations hold passwords: ``/etc/atelier`` is 0750 and the files in it 0640,
owned by root and readable by the ``atelier`` group only; units are 0644.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UNITS = ("atelier-edge.service", "atelier-edge@.service", "atelier-gateway.service")
EXAMPLES = ("edge.toml", "gateway.toml")
USER = "atelier"
CONFIG_DIR_MODE = 0o750
CONFIG_MODE = 0o640
UNIT_MODE = 0o644


def install(root: Path | None = None) -> int:
    staging = root is not None
    target = root or Path("/")
    if not staging and os.geteuid() != 0:
        print("atelier install must run as root (sudo atelier install), or with --root DIR to stage the files.")
        return 1
    atelier = Path(sys.executable).parent / "atelier"
    unit_dir = target / "etc/systemd/system"
    config_dir = target / "etc/atelier"
    unit_dir.mkdir(parents=True, exist_ok=True)
    config_dir.mkdir(parents=True, exist_ok=True)
    config_dir.chmod(CONFIG_DIR_MODE)
    for name in UNITS:
        text = (REPO / "systemd" / name).read_text().replace("/opt/atelier/bin/atelier", str(atelier))
        (unit_dir / name).write_text(text)
        (unit_dir / name).chmod(UNIT_MODE)
        print(f"unit      {unit_dir / name}")
    if not staging:
        _ensure_user()
    for name in EXAMPLES:
        destination = config_dir / f"{name}.example"
        shutil.copyfile(REPO / "examples" / name, destination)
        destination.chmod(CONFIG_MODE)
        print(f"example   {destination}  (copy to {config_dir / name} with 'install -m 0640 -g {USER}' and edit)")
    if not staging:
        _group_reads([config_dir, *config_dir.iterdir()])
        subprocess.run(["systemctl", "daemon-reload"], check=False)
    print("Next: edit the configuration, check it with 'atelier edge check -c FILE', then")
    print("      systemctl enable --now atelier-edge   (or atelier-gateway on the server)")
    return 0


def _group_reads(paths: list[Path]) -> None:
    """root owns the configuration; the service's group reads it; nobody else does."""
    gid = grp.getgrnam(USER).gr_gid
    for path in paths:
        os.chown(path, 0, gid)
        mode = CONFIG_DIR_MODE if path.is_dir() else CONFIG_MODE
        path.chmod(path.stat().st_mode & mode)  # never widens a mode the school narrowed


def _ensure_user() -> None:
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--home-dir", "/var/lib/atelier", "--shell", "/usr/sbin/nologin", USER], check=True
        )
        print(f"user      {USER} (system)")
    # The edge agent reads serial adapters, which belong to the dialout group.
    subprocess.run(["usermod", "-a", "-G", "dialout", USER], check=False)
