"""The ``atelier`` command: ``edge``, ``gateway`` and ``demo`` subcommands.

Each subcommand imports its daemon only when chosen, so ``atelier --help``
stays fast and a workshop PC without the gateway's needs still runs the agent.
Exit codes: 0 success, 1 runtime failure, 2 configuration error (the systemd
units set ``RestartPreventExitStatus=2``: restarting cannot fix a bad file).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from plumbing import __version__

EXIT_CONFIG = 2
DEFAULT_EDGE_CONFIG = Path("/etc/atelier/edge.toml")
DEFAULT_GATEWAY_CONFIG = Path("/etc/atelier/gateway.toml")

Handler = Callable[[argparse.Namespace], int]


def _edge_run(args: argparse.Namespace) -> int:
    from edge_agent.app import main as run

    return run(args.config)


def _edge_check(args: argparse.Namespace) -> int:
    from edge_agent.app import check

    return check(args.config)


def _edge_send(args: argparse.Namespace) -> int:
    from edge_agent.drivers.serial.grbl_control import send_program

    return send_program(args.config, args.machine, args.file)


def _edge_browse(args: argparse.Namespace) -> int:
    from edge_agent.browse import browse_main

    return browse_main(args.url, args.node, args.depth, args.write_profile)


def _edge_cert(args: argparse.Namespace) -> int:
    from edge_agent.certs import cert_main

    return cert_main(
        args.out, application_uri=args.application_uri, common_name=args.common_name, days=args.days, force=args.force
    )


def _gateway_admin(args: argparse.Namespace) -> int:
    from gateway import admin

    match args.gateway_command:
        case "create-admin":
            # Never a password option: a command line is readable by every user of the machine (ps, /proc).
            password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else None
            return admin.create_admin(args.config, args.username, password, sites=args.site)
        case "import-students":
            return admin.import_students(args.config, args.csv, site=args.site)
        case "import-orders":
            return admin.import_orders(args.config, args.csv, site=args.site)
        case "backup":
            return admin.backup(args.config, args.destination)
        case "move-machine":
            return admin.move_machine(args.config, args.site, args.machine, args.agent)
        case _:
            return admin.purge(args.config)


def _gateway_run(args: argparse.Namespace) -> int:
    from gateway.app import main as run

    return run(args.config)


def _gateway_check(args: argparse.Namespace) -> int:
    from gateway.app import check

    return check(args.config)


def _demo(args: argparse.Namespace) -> int:
    from atelier.demo import run_demo

    return run_demo(port=args.port, data_dir=args.data, seconds=args.seconds)


def _bus_secure(args: argparse.Namespace) -> int:
    from atelier.bus_security import secure_main

    return secure_main(args.edge, args.gateway, args.out, (args.ca, args.cert, args.key), args.gateway_site)


def _bus_bridge(args: argparse.Namespace) -> int:
    from atelier.bridge import bridge_main

    return bridge_main(args)


def _install(args: argparse.Namespace) -> int:
    from atelier.install import install

    return install(args.root)


def _config_option(parser: argparse.ArgumentParser, default: Path) -> None:
    parser.add_argument("-c", "--config", type=Path, default=default, help=f"configuration file (default {default})")


def _gateway_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gateway = commands.add_parser("gateway", help="the gateway next to the broker").add_subparsers(
        dest="gateway_command", required=True, metavar="ACTION"
    )
    _add(gateway, "run", "run the gateway daemon (ingest, API and pages)", _gateway_run, DEFAULT_GATEWAY_CONFIG)
    _add(gateway, "check", "validate the configuration", _gateway_check, DEFAULT_GATEWAY_CONFIG)
    first = _add(gateway, "create-admin", "create a master's admin login", _gateway_admin, DEFAULT_GATEWAY_CONFIG)
    first.add_argument("username")
    first.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (scripts); default: asked twice on the terminal",
    )
    first.add_argument(
        "--site",
        action="append",
        help="a site the master acts on (repeat for several); default: the gateway's own site",
    )
    for name, what in (("import-students", "students"), ("import-orders", "orders")):
        importer = _add(
            gateway, name, f"import {what} from CSV, all or nothing", _gateway_admin, DEFAULT_GATEWAY_CONFIG
        )
        importer.add_argument("csv", type=Path)
        importer.add_argument("--site", help="the site they belong to; default: the gateway's own site")
    backup = _add(gateway, "backup", "back up the database to a new file", _gateway_admin, DEFAULT_GATEWAY_CONFIG)
    backup.add_argument("destination", type=Path)
    _add(
        gateway,
        "purge",
        "apply the retention settings (practice logs, dead letters)",
        _gateway_admin,
        DEFAULT_GATEWAY_CONFIG,
    )
    move = _add(
        gateway,
        "move-machine",
        "give a machine to another agent (it moved to another PC); audited",
        _gateway_admin,
        DEFAULT_GATEWAY_CONFIG,
    )
    move.add_argument("machine", help="the machine's id on the bus")
    move.add_argument("agent", help="the id of the agent that now serves it")
    move.add_argument("--site", default=None, help="the machine's site (default: the gateway's own, if it has one)")


def _bridge_parser(bus: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bridge = bus.add_parser(
        "bridge",
        help="print a school broker's bridge to the central broker, and the central ACL entry for it",
        description="Print the mosquitto bridge block for a school's broker and the central broker's ACL entry "
        "for the bridge's account (docs/scaling.md explains every line).",
    )
    bridge.add_argument("site", help="the school's site id, as in its agents' edge.toml")
    bridge.add_argument("--central", required=True, help="the central broker's listener, HOST:PORT")
    bridge.add_argument("--cafile", type=Path, default=None, help="CA of the central broker's certificate (TLS)")
    bridge.add_argument("--username", default=None, help="the bridge's account at the centre (default SITE-bridge)")
    bridge.add_argument("--anonymous", action="store_true", help="no account (a central broker without passwords)")
    # Never a password option: a command line is readable by every user of the machine (ps, /proc).
    bridge.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the account's password from the first line of standard input (default: a placeholder)",
    )
    bridge.add_argument("--restart-timeout", default="5 30", help="reconnect back-off in seconds (default '5 30')")
    bridge.add_argument(
        "--part", choices=("all", "block", "acl"), default="all", help="print only the block or only the ACL entry"
    )
    bridge.set_defaults(handler=_bus_bridge)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atelier", description="Atelier: CNC machines to the people who run them.")
    parser.add_argument("--version", action="version", version=f"atelier {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    edge = commands.add_parser("edge", help="the edge agent on a workshop PC").add_subparsers(
        dest="edge_command", required=True, metavar="ACTION"
    )
    _add(edge, "run", "run the edge agent daemon", _edge_run, DEFAULT_EDGE_CONFIG)
    _add(edge, "check", "validate the configuration and every profile it uses", _edge_check, DEFAULT_EDGE_CONFIG)
    send = _add(
        edge, "send", "stream a G-code program to a GRBL machine of the running agent", _edge_send, DEFAULT_EDGE_CONFIG
    )
    send.add_argument("machine", help="machine id in the agent's configuration")
    send.add_argument("file", type=Path, help="G-code file")
    browse = edge.add_parser("browse", help="print an OPC UA server's address space, or write a profile skeleton")
    browse.add_argument("url", help="endpoint, e.g. opc.tcp://192.168.1.20:4840")
    browse.add_argument("node", nargs="?", default=None, help="start node id (default: Objects)")
    browse.add_argument("--depth", type=int, default=3, help="levels shown below the start node (default 3)")
    browse.add_argument("--write-profile", type=Path, default=None, help="write a profile skeleton TOML here")
    browse.set_defaults(handler=_edge_browse)
    cert = edge.add_parser("cert", help="generate the agent's OPC UA client certificate and key")
    cert.add_argument("--out", type=Path, default=Path("/etc/atelier/pki"), help="output folder")
    cert.add_argument("--application-uri", default=None, help="application URI (default: derived from the host name)")
    cert.add_argument("--common-name", default="Atelier edge agent")
    cert.add_argument("--days", type=int, default=3650)
    cert.add_argument("--force", action="store_true", help="overwrite existing files")
    cert.set_defaults(handler=_edge_cert)

    _gateway_parser(commands)

    bus = commands.add_parser("bus", help="broker administration").add_subparsers(
        dest="bus_command", required=True, metavar="ACTION"
    )
    secure = bus.add_parser("secure", help="write a TLS broker configuration, passwords and an ACL")
    secure.add_argument("--edge", type=Path, action="append", required=True, help="an agent's edge.toml (repeat)")
    secure.add_argument("--gateway", action="append", default=["gateway"], help="gateway user name (repeat)")
    secure.add_argument(
        "--gateway-site",
        action="append",
        default=[],
        help="a site the gateways host, as their [gateway] site list (repeat; default: every site)",
    )
    secure.add_argument("--out", type=Path, default=Path("/etc/mosquitto/atelier"), help="output folder")
    secure.add_argument("--ca", type=Path, required=True, help="CA certificate (PEM)")
    secure.add_argument("--cert", type=Path, required=True, help="broker certificate (PEM)")
    secure.add_argument("--key", type=Path, required=True, help="broker private key (PEM)")
    secure.set_defaults(handler=_bus_secure)
    _bridge_parser(bus)

    installer = commands.add_parser("install", help="install the systemd units, the service user and example configs")
    installer.add_argument("--root", type=Path, default=None, help="stage the files under this folder instead of /")
    installer.set_defaults(handler=_install)

    demo = commands.add_parser("demo", help="the whole system on this machine with simulated machines")
    demo.add_argument("--port", type=int, default=8000, help="HTTP port of the pages (default 8000)")
    demo.add_argument("--data", type=Path, default=Path("demo-data"), help="data folder (default ./demo-data)")
    demo.add_argument("--seconds", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    demo.set_defaults(handler=_demo)
    return parser


def _add(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    handler: Handler,
    default_config: Path,
) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text)
    _config_option(parser, default_config)
    parser.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
