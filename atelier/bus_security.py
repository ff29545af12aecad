"""A secured broker for Atelier: TLS listener, one password per agent, and an ACL.

An agent may publish only under its own machines and its own status topic and
read only its replay topic; a gateway may read the whole tree and publish only
replay requests. ``atelier bus secure`` writes these files for mosquitto.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edge_agent import contract

TLS_LISTENER = """\
listener {port} {host}
protocol mqtt
cafile {ca_file}
certfile {cert_file}
keyfile {key_file}
tls_version tlsv1.2
allow_anonymous false
password_file {password_file}
acl_file {acl_file}
"""


def gateway_grants(sites: Sequence[str] = ()) -> tuple[str, ...]:
    """A gateway's ACL lines: the trees of the sites it hosts (none: every site), replay requests to their
    agents, their aggregates, and every school's aggregates to read (``contract.gateway_reads``)."""
    return (
        *(f"topic read {topic}" for topic in contract.gateway_reads(*sites)),
        *(f"topic write {topic}" for topic in contract.gateway_writes(*sites)),
    )


GATEWAY_GRANTS = gateway_grants()


@dataclass(frozen=True, slots=True)
class AgentAccount:
    agent: str
    site: str
    machines: tuple[str, ...]


def acl(agents: list[AgentAccount], gateways: list[str], gateway_sites: Sequence[str] = ()) -> str:
    """Mosquitto ACL text; anything not granted is denied. ``gateway_sites``: the sites the gateways host
    (a central pool's ``[gateway] site`` list); none: every site."""
    blocks = []
    for account in agents:
        lines = [f"user {account.agent}"]
        lines.extend(f"topic write {t}" for t in contract.agent_writes(account.site, account.agent, account.machines))
        lines.extend(f"topic read {t}" for t in contract.agent_reads(account.site, account.agent))
        blocks.append("\n".join(lines))
    grants = gateway_grants(gateway_sites)
    blocks.extend("\n".join([f"user {gateway}", *grants]) for gateway in gateways)
    return "\n\n".join(blocks) + "\n"


def write_password_file(path: Path, credentials: dict[str, str]) -> None:
    """Hash the passwords with mosquitto_passwd so the broker never sees them in clear.

    The passwords never go on a command line (``mosquitto_passwd -b`` would show them to
    every user through ps and /proc): they are written in clear to the new file, readable
    by its owner only, and ``mosquitto_passwd -U`` hashes that file in place.
    """
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise RuntimeError("mosquitto_passwd is missing: apt-get install mosquitto")
    for user, password in credentials.items():
        if ":" in user or any(c in user + password for c in "\r\n"):
            raise ValueError(f"user {user!r}: a user name cannot hold ':' and neither may hold a line break")
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as clear:
        clear.writelines(f"{user}:{password}\n" for user, password in credentials.items())
    try:
        subprocess.run([tool, "-U", str(path)], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        path.unlink(missing_ok=True)  # never leave the passwords in clear
        raise


def new_password() -> str:
    return secrets.token_urlsafe(18)


def tls_listener(
    *, host: str, port: int, ca_file: Path, cert_file: Path, key_file: Path, password_file: Path, acl_file: Path
) -> str:
    return TLS_LISTENER.format(
        host=host,
        port=port,
        ca_file=ca_file,
        cert_file=cert_file,
        key_file=key_file,
        password_file=password_file,
        acl_file=acl_file,
    )


def write_broker_files(
    *,
    out_dir: Path,
    agents: list[AgentAccount],
    gateways: list[str],
    tls: tuple[Path, Path, Path],
    host: str = "0.0.0.0",  # noqa: S104 - a site broker listens on the workshop network
    port: int = 8883,
    gateway_sites: Sequence[str] = (),
) -> dict[str, str]:
    """Write acl, passwd, credentials.txt and atelier.conf into ``out_dir``; return the new passwords."""
    from atelier.broker import broker_settings

    out_dir.mkdir(parents=True, exist_ok=True)
    credentials = {user: new_password() for user in [a.agent for a in agents] + gateways}
    (out_dir / "acl").write_text(acl(agents, gateways, gateway_sites))
    write_password_file(out_dir / "passwd", credentials)
    secret = out_dir / "credentials.txt"
    secret.touch(mode=0o600)
    secret.write_text("".join(f"{user} {password}\n" for user, password in credentials.items()))
    ca_file, cert_file, key_file = tls
    settings = broker_settings(data_dir="/var/lib/mosquitto", user="mosquitto")
    listener = tls_listener(
        host=host,
        port=port,
        ca_file=ca_file,
        cert_file=cert_file,
        key_file=key_file,
        password_file=out_dir / "passwd",
        acl_file=out_dir / "acl",
    )
    (out_dir / "atelier.conf").write_text(settings + listener)
    return credentials


def secure_main(
    edge_configs: list[Path],
    gateways: list[str],
    out_dir: Path,
    tls: tuple[Path, Path, Path],
    gateway_sites: Sequence[str] = (),
) -> int:
    from edge_agent import config
    from plumbing import tomlconfig

    try:
        loaded = [config.load(path) for path in edge_configs]
    except tomlconfig.ConfigError as err:
        print(err)
        return 2
    bad = [site for site in gateway_sites if not contract.is_valid_id(site)]
    if bad:
        print(f"--gateway-site {bad[0]!r}: expected a site id (lower case, digits, - and _); none for every site")
        return 2
    agents = [AgentAccount(c.agent.id, c.agent.site, tuple(m.id for m in c.machines)) for c in loaded]
    write_broker_files(out_dir=out_dir, agents=agents, gateways=gateways, tls=tls, gateway_sites=gateway_sites)
    print(f"Wrote {out_dir}/atelier.conf, acl, passwd and credentials.txt (keep this one secret).")
    print("Put each agent's password in its edge.toml [broker] section and the gateway's in gateway.toml.")
    return 0
