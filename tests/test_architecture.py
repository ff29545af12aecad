"""Import rules that keep the layers apart, checked by walking the source with ast.

The house, bottom to top: ``plumbing`` (the leaf) <- ``edge_agent`` and ``gateway`` (the daemons; the gateway takes
only ``edge_agent.contract`` from the agent) <- ``atelier`` (the top: CLI, demo, install, simulators).
``harness`` (the chain of real processes) serves ``tests`` and ``bench``, which never import each other.

Relative imports count as what they name: ``from . import x`` in ``gateway/domain/oee.py`` is ``gateway.domain.x``.
A file or folder a rule names must exist, so a move cannot make a rule pass on nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IO_LIBRARIES = {
    "paho",
    "sqlalchemy",
    "fastapi",
    "starlette",
    "influxdb_client",
    "asyncua",
    "serial",
    "uvicorn",
    "httpx",
    "psycopg",
    "sqlite3",
    "os",
    "socket",
    "subprocess",
    "shutil",
    "ssl",
    "urllib",
    "http",
    "multiprocessing",
}
DAEMONS = ("edge_agent", "gateway")


def _module(path: Path) -> str:
    """``gateway/domain/oee.py`` -> ``gateway.domain.oee``; a package's ``__init__.py`` is the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    return _imported(path.read_text(), package, str(path.relative_to(ROOT)))


def _imported(source: str, package: str, where: str) -> list[str]:
    """Every module (or module attribute) ``source`` imports, its relative imports resolved from ``package``.

    ``from a.b import c`` gives ``a.b.c``: ``c`` may be a submodule (``from edge_agent import contract``),
    and a rule on ``a.b`` matches it by prefix either way.
    """
    names: list[str] = []
    for node in ast.walk(ast.parse(source, filename=where)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                assert node.level <= len(base), f"{where}:{node.lineno} imports from beyond its top package"
                module = ".".join([*base[: len(base) - node.level + 1], *([module] if module else [])])
            names += [f"{module}.{alias.name}" for alias in node.names]
    return names


def _within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _existing(relative: str) -> Path:
    path = ROOT / relative
    assert path.exists(), f"{relative} is named by an architecture rule but does not exist: update the rule"
    return path


def _sources(*folders: str) -> list[Path]:
    found = []
    for folder in folders:
        files = sorted(_existing(folder).rglob("*.py")) if (ROOT / folder).is_dir() else [_existing(folder)]
        assert files, f"{folder} has no modules: a rule on it would pass on nothing"
        found += files
    return found


def _offenders(paths: Iterable[Path], bad: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in paths
        for name in _imports(path)
        if _within(name, *bad) and not _within(name, *allowed)
    ]


# --- the test's own eyes --------------------------------------------------------------------------


def test_relative_imports_are_resolved() -> None:
    source = "from . import model\nfrom ..store import repo\nfrom .model import CycleFact\nimport os.path\n"
    assert _imported(source, "gateway.domain", "oee.py") == [
        "gateway.domain.model",
        "gateway.store.repo",
        "gateway.domain.model.CycleFact",
        "os.path",
    ]
    assert _imported("from . import oee\n", "gateway.domain", "__init__.py") == ["gateway.domain.oee"]
    assert _module(ROOT / "gateway" / "domain" / "__init__.py") == "gateway.domain"


def test_a_rule_on_a_missing_file_fails() -> None:
    for missing in ("gateway/no_such_module.py", "no_such_package"):
        with pytest.raises(AssertionError, match="does not exist"):
            _sources(missing)


# --- the layers ---------------------------------------------------------------------------------


def test_plumbing_is_a_leaf() -> None:
    assert not _offenders(_sources("plumbing"), (*DAEMONS, "atelier", "harness", "bench", "tests"))


def test_daemons_never_import_the_top() -> None:
    assert not _offenders(_sources(*DAEMONS), ("atelier", "harness", "bench", "tests"))


def test_the_agent_never_imports_the_gateway() -> None:
    assert not _offenders(_sources("edge_agent"), ("gateway",))


def test_gateway_uses_only_the_contract_from_the_edge_agent() -> None:
    assert not _offenders(_sources("gateway"), ("edge_agent",), allowed=("edge_agent.contract",))


def test_bench_and_tests_never_import_each_other() -> None:
    """What both need (the chain of real processes, probes) is in ``harness``; product code is in the product."""
    assert not _offenders(_sources("bench"), ("tests",))
    assert not _offenders(_sources("tests"), ("bench",))
    assert not _offenders(_sources("harness"), ("tests", "bench"))


def test_contract_depends_only_on_stdlib_and_pydantic() -> None:
    allowed_roots = {"__future__", "json", "re", "dataclasses", "datetime", "enum", "typing", "pydantic"}
    names = set(_imports(_existing("edge_agent/contract.py")))
    assert {n.split(".")[0] for n in names} <= allowed_roots


PURE = [
    *(f"edge_agent/{name}" for name in ("contract.py", "normalise.py", "changes.py", "cycles.py", "tracker.py")),
    "edge_agent/drafts.py",
    "edge_agent/observations.py",
    "gateway/domain",
    "gateway/ingest/ownership.py",
    "gateway/ingest/gaps.py",
    "gateway/ingest/messages.py",
]


def test_pure_modules_do_no_io() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources(*PURE)
        for name in _imports(path)
        if name.split(".")[0] in IO_LIBRARIES
        or _within(name, "gateway.store", "gateway.web", "plumbing")
        or (_within(name, "gateway.ingest") and not _within(name, "gateway.ingest.messages"))
    ]
    assert not offenders


# What a SQLAlchemy Session does; the web holds one only to pass it on to the store's functions.
SESSION_METHODS = {"execute", "scalars", "scalar", "get", "get_one", "query", "add", "delete", "flush", "merge"}


def test_web_does_no_sql() -> None:
    """No module under gateway/web imports SQLAlchemy or calls a session's methods: queries live in gateway/store."""
    web = _sources("gateway/web")
    offenders = _offenders(web, ("sqlalchemy",))
    for path in web:
        offenders += [
            f"{path.relative_to(ROOT)}:{node.lineno} {node.func.value.id}.{node.func.attr}()"
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in {"db", "session"}
            and node.func.attr in SESSION_METHODS
        ]
    assert not offenders
