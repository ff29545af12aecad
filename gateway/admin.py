"""What ``atelier gateway`` admin subcommands run: first admin, CSV imports, backup, retention purge, machine moves.

Each takes the gateway's configuration file, brings the schema up to date,
prints what it did or exactly what is wrong, and returns an exit code:
0 done, 1 refused (bad input, nothing written), 2 bad configuration.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from edge_agent.contract import ID_PATTERN as SITE_PATTERN
from gateway import auth, config, importer
from gateway.config import RecordsSection
from gateway.errors import GatewayError, InvalidError, StoreError
from gateway.store import bus_repo, ownership_repo, privacy, sites_repo
from gateway.store.db import make_engine, session_factory, upgrade, writer
from plumbing import tomlconfig

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_REFUSED, EXIT_CONFIG = 0, 1, 2


class _ConfigProblemError(Exception):
    pass


def _settings(config_path: Path) -> tuple[config.GatewaySettings, RecordsSection]:
    try:
        settings = config.load(config_path)
    except tomlconfig.ConfigError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        raise _ConfigProblemError from err
    return settings, settings.records


@contextmanager
def _store(url: str) -> Iterator[Session]:
    """One transaction on an up-to-date schema: committed if the block returns, rolled back if it raises.

    It takes SQLite's write lock as it begins (``writer``), waiting for the running gateway's writes:
    a command that read first would fail at once with "database is locked" as soon as the gateway commits.
    """
    engine = make_engine(url)
    try:
        upgrade(url, engine=engine)
        with session_factory(writer(engine)).begin() as db:
            yield db
    except OperationalError as err:
        raise StoreError(f"the database is busy or unavailable, nothing written; try again ({err.orig})") from err
    finally:
        engine.dispose()


def _run(config_path: Path, task: Callable[[config.GatewaySettings, RecordsSection], int]) -> int:
    try:
        settings, records = _settings(config_path)
        return task(settings, records)
    except _ConfigProblemError:
        return EXIT_CONFIG
    except GatewayError as err:
        print(f"atelier gateway: {err}", file=sys.stderr)
        return EXIT_REFUSED


def _site(settings: config.GatewaySettings, db: Session, asked: str | None) -> str:
    """The site a command writes into: the one asked for, else the gateway's own (``sites_repo.home_site``)."""
    if asked is None:
        return sites_repo.home_site(db=db, asked=settings.gateway.only_site)
    if not re.fullmatch(SITE_PATTERN, asked):
        raise InvalidError("site_invalid", site=asked)
    return asked


def create_admin(config_path: Path, username: str, password: str | None, *, sites: list[str] | None = None) -> int:
    """Create a master's login for ``sites`` (default: the gateway's own); asks for the password (twice)."""

    def task(settings: config.GatewaySettings, records: RecordsSection) -> int:
        secret = password if password is not None else _ask_password()
        if secret is None:
            return EXIT_REFUSED
        with _store(settings.database.url) as db:
            chosen = [_site(settings, db, site) for site in sites] if sites else [_site(settings, db, None)]
            auth.create_user(
                db=db,
                who="atelier gateway create-admin",
                now=datetime.now(UTC),
                username=username,
                password=secret,
                role="admin",
                student_id=None,
                sites=chosen,
            )
        print(f"admin {username!r} created for {', '.join(chosen)}")
        if chosen == [sites_repo.DEFAULT_SITE]:
            print(
                f"note: no gateway.site and no machine yet, so the site is {sites_repo.DEFAULT_SITE!r}; "
                "give --site SITE for the school's own",
                file=sys.stderr,
            )
        return EXIT_OK

    return _run(config_path, task)


def _ask_password() -> str | None:
    first = getpass.getpass("password for the new admin: ")
    if first != getpass.getpass("again: "):
        print("the two passwords differ; nothing created", file=sys.stderr)
        return None
    return first


def import_students(config_path: Path, csv_path: Path, *, site: str | None = None) -> int:
    return _import(config_path, csv_path, "students", site)


def import_orders(config_path: Path, csv_path: Path, *, site: str | None = None) -> int:
    return _import(config_path, csv_path, "orders", site)


def _import(config_path: Path, csv_path: Path, kind: str, site: str | None) -> int:
    def task(settings: config.GatewaySettings, records: RecordsSection) -> int:
        with _store(settings.database.url) as db:
            into = _site(settings, db, site)
            if kind == "students":
                report = importer.check_students(db=db, path=csv_path)
            else:
                report = importer.check_orders(db=db, path=csv_path, zone=records.zone(), site=into)
            if report.problems:
                for problem in report.problems:
                    print(problem, file=sys.stderr)
                print(f"{len(report.problems)} problem(s): nothing imported", file=sys.stderr)
                return EXIT_REFUSED
            who = f"import {csv_path.name}"
            count = importer.write(db=db, report=report, who=who, now=datetime.now(UTC), kind=kind, site=into)
        print(f"{count} {kind} imported from {csv_path}")
        return EXIT_OK

    return _run(config_path, task)


def purge(config_path: Path) -> int:
    """Apply the retention settings (run daily by a timer): practice logs older than ``records.retention_days``
    are detached from their students; dead letters older than ``ingest.dead_letter_retention_days`` deleted."""

    def task(settings: config.GatewaySettings, records: RecordsSection) -> int:
        now = datetime.now(UTC)
        letters_before = now - timedelta(days=settings.ingest.dead_letter_retention_days)
        with _store(settings.database.url) as db:
            before, count = privacy.purge_expired(db=db, settings=records, now=now)
            letters = bus_repo.purge_dead_letters(db=db, before=letters_before)
        if before is None:
            print("records.retention_days is not set: no practice log purged")
        else:
            print(f"{count} practice session(s) before {before:%Y-%m-%d} detached from their students")
        print(f"{letters} dead letter(s) received before {letters_before:%Y-%m-%d %H:%M} deleted")
        return EXIT_OK

    return _run(config_path, task)


def move_machine(config_path: Path, site: str | None, machine: str, agent: str) -> int:
    """Give a machine to another agent (it moved to another PC); audited. The running gateway obeys at once."""

    def task(settings: config.GatewaySettings, records: RecordsSection) -> int:
        where = site or settings.gateway.only_site
        if where is None:
            print("this gateway ingests several sites: give the machine's site with --site", file=sys.stderr)
            return EXIT_REFUSED
        who = f"atelier gateway move-machine ({getpass.getuser()})"
        with _store(settings.database.url) as db:
            move = ownership_repo.move_machine(
                db=db, site=where, machine=machine, agent=agent, who=who, now=datetime.now(UTC)
            )
        print(f"machine {move.machine!r} of site {move.site!r} moved from agent {move.previous!r} to {move.agent!r}")
        if move.new_agent:
            print(f"agent {move.agent!r} has not announced itself yet; its messages are stored once it does")
        return EXIT_OK

    return _run(config_path, task)


def backup(config_path: Path, destination: Path) -> int:
    """A consistent copy of the database while the gateway runs: SQLite's online backup, or pg_dump.

    The copy holds every student's record: it is created 0600, and never over an existing file.
    """

    def task(settings: config.GatewaySettings, records: RecordsSection) -> int:
        url = make_url(settings.database.url)
        try:
            os.close(os.open(destination, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            print(f"{destination} exists; choose a new file name", file=sys.stderr)
            return EXIT_REFUSED
        except OSError as err:
            print(f"cannot create {destination}: {err.strerror}", file=sys.stderr)
            return EXIT_REFUSED
        try:
            if url.get_backend_name() == "sqlite":
                _sqlite_backup(Path(url.database or ""), destination)
            else:
                _pg_dump(settings.database.url, destination)
        except GatewayError:
            destination.unlink(missing_ok=True)
            raise
        print(f"database backed up to {destination}")
        return EXIT_OK

    return _run(config_path, task)


def _sqlite_backup(source: Path, destination: Path) -> None:
    if not source.is_file():
        raise GatewayError(f"no database file at {source}")
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(destination) as dst:
            src.backup(dst)
    except sqlite3.Error as err:
        destination.unlink(missing_ok=True)
        raise GatewayError(f"cannot back up {source}: {err}") from err


def _pg_dump(url: str, destination: Path) -> None:
    program = shutil.which("pg_dump")
    if program is None:
        raise GatewayError("pg_dump is not installed (Debian: apt install postgresql-client)")
    parsed = make_url(url).set(drivername="postgresql")
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    dsn = parsed.set(password=None).render_as_string(hide_password=False)
    done = subprocess.run(
        [program, "--format=custom", f"--file={destination}", f"--dbname={dsn}"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        destination.unlink(missing_ok=True)
        raise GatewayError(f"pg_dump failed: {done.stderr.strip()}")
