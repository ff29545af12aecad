"""``atelier install``: put the systemd units, the service user and example configurations in place.

Run as root on a workshop PC or the school server. ``--root`` installs into a
staging folder instead (no user created, systemd not reloaded), which is also
how the tests check it.
"""

from __future__ import annotations

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
    for name in UNITS:
        text = (REPO / "systemd" / name).read_text().replace("/opt/atelier/bin/atelier", str(atelier))
        (unit_dir / name).write_text(text)
        print(f"unit      {unit_dir / name}")
    for name in EXAMPLES:
        destination = config_dir / f"{name}.example"
        shutil.copyfile(REPO / "examples" / name, destination)
        print(f"example   {destination}  (copy to {config_dir / name} and edit)")
    if not staging:
        _ensure_user()
        subprocess.run(["systemctl", "daemon-reload"], check=False)
    print("Next: edit the configuration, check it with 'atelier edge check -c FILE', then")
    print("      systemctl enable --now atelier-edge   (or atelier-gateway on the server)")
    return 0


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
