"""A school's broker bridged to the network's central broker: the bridge block and the central ACL entry.

``atelier bus bridge SITE --central HOST:PORT`` prints both; docs/scaling.md explains every line.
The block goes into the school's ``mosquitto.conf`` after Atelier's broker settings (``atelier bus secure``);
the ACL entry into the central broker's ACL file. The topic filters come from the wire contract, so the
bridge carries exactly the tree the agents publish and the replay requests the gateways send.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge_agent import contract
from plumbing.addresses import parse_listen

EXIT_OK, EXIT_CONFIG = 0, 2


def bridge_block(
    site: str,
    host: str,
    port: int,
    *,
    restart_timeout: str = "5 30",
    cafile: Path | None = None,
    username: str | None = None,
    password: str | None = None,
) -> str:
    """The bridge section of a school's mosquitto.conf, after Atelier's broker settings (persistence, no caps).

    MQTT 3.1.1 on purpose: from a broker with Atelier's ``max_inflight_messages 0`` an ``mqttv50``
    bridge of mosquitto 2.0.11 connects with a Receive Maximum of 0, which MQTT 5 makes a protocol
    error (section 3.1.2.11.3): the central broker drops it. With 3.1.1 and ``cleansession false``
    the central broker keeps the bridge's session, and the replay requests queued in it, while the link
    is down. With ``cafile`` the bridge speaks TLS and checks the central broker's certificate against
    that CA and ``host``; ``username`` is the bridge's account there (see ``bridge_acl``).
    Measured by ``bench/sites.py``; checked by ``tests/e2e/test_sites_bridge.py``.
    """
    tls = f"bridge_cafile {cafile}\nbridge_tls_version tlsv1.2\n" if cafile is not None else ""
    account = f"remote_username {username}\nremote_password {password}\n" if username is not None else ""
    return (
        "\n# This school's tree to the central broker, and the central gateways' replay requests back.\n"
        "connection central\n"
        f"address {host}:{port}\n"
        "bridge_protocol_version mqttv311\n"
        f"remote_clientid bridge-{site}\n"
        f"local_clientid bridge-{site}-local\n"
        "cleansession false\n"
        f"restart_timeout {restart_timeout}\n"
        f"{tls}{account}"
        f"topic {contract.TOPIC_ROOT}/{site}/# out 1\n"
        f"topic {contract.agent_topic(site, '+', 'replay')} in 1\n"
    )


def bridge_acl(site: str, user: str) -> str:
    """The central broker's ACL entry for a school's bridge: its own tree in, its agents' replay requests out."""
    return (
        f"user {user}\n"
        f"topic write {contract.TOPIC_ROOT}/{site}/#\n"
        f"topic read {contract.agent_topic(site, '+', 'replay')}\n"
        f"topic write $SYS/broker/connection/bridge-{site}/state\n"
    )


PASSWORD_PLACEHOLDER = "<the bridge's password>"  # noqa: S105 - what the operator replaces, not a password


def bridge_main(args: argparse.Namespace) -> int:
    """``atelier bus bridge``: print the block, the ACL entry or both; 2 on a bad site, address or restart timeout."""
    problems = []
    if not contract.is_valid_id(args.site):
        problems.append(f"site {args.site!r}: letters, digits, '-' and '_' only, as in the agents' edge.toml")
    try:
        host, port = parse_listen(args.central)
    except ValueError:
        host, port = "", 0
    if not host or ":" in host:  # mosquitto's bridge address takes a host name or an IPv4 address
        problems.append(f"--central {args.central!r}: HOST:PORT of the central listener, e.g. central.example.org:8883")
    timeout = args.restart_timeout.split()
    if not (1 <= len(timeout) <= 2 and all(t.isdigit() and int(t) > 0 for t in timeout)):
        problems.append(f"--restart-timeout {args.restart_timeout!r}: one or two whole numbers of seconds, e.g. '5 30'")
    user = None if args.anonymous else (args.username or f"{args.site}-bridge")
    password = PASSWORD_PLACEHOLDER
    if args.password_stdin and user is None:
        problems.append("--password-stdin with --anonymous: an anonymous bridge has no password")
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password or any(c.isspace() for c in password):
            problems.append("--password-stdin: the first line of standard input is empty or holds a space")
    if problems:
        print(*problems, sep="\n", file=sys.stderr)
        return EXIT_CONFIG
    block = bridge_block(
        args.site, host, port, restart_timeout=args.restart_timeout, cafile=args.cafile, username=user,
        password=password,
    )  # fmt: skip
    if args.part in ("all", "block"):
        if args.part == "all":
            print(f"# --- for {args.site}'s mosquitto.conf, after Atelier's broker settings (atelier bus secure) ---")
        print(block.lstrip("\n"), end="")
    if args.part in ("all", "acl") and user is not None:
        if args.part == "all":
            print(f"\n# --- for the central broker's ACL file: {user}'s grants (password: mosquitto_passwd) ---")
        print(bridge_acl(args.site, user), end="")
    return EXIT_OK
