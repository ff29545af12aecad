"""Import rules that keep the layers apart, checked by walking the source with ast."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

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
}


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_gateway_uses_only_the_contract_from_the_edge_agent() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources("gateway")
        for name in _imports(path)
        if name.startswith("edge_agent") and name != "edge_agent.contract"
    ]
    assert not offenders


def test_contract_depends_only_on_stdlib_and_pydantic() -> None:
    allowed_roots = {"__future__", "json", "re", "dataclasses", "datetime", "enum", "typing", "pydantic"}
    names = set(_imports(ROOT / "edge_agent" / "contract.py"))
    assert {n.split(".")[0] for n in names} <= allowed_roots


def test_pure_modules_do_no_io() -> None:
    pure = [
        ROOT / "edge_agent" / name
        for name in ("contract.py", "normalise.py", "changes.py", "cycles.py", "tracker.py", "drafts.py")
    ]
    pure += _sources("gateway/domain")
    pure += [ROOT / "gateway" / "ownership.py"]
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in pure
        if path.exists()
        for name in _imports(path)
        if name.split(".")[0] in IO_LIBRARIES or name.startswith(("gateway.store", "gateway.web", "gateway.ingest"))
    ]
    assert not offenders


# What a SQLAlchemy Session does; the web holds one only to pass it on to the store's functions.
SESSION_METHODS = {"execute", "scalars", "scalar", "get", "get_one", "query", "add", "delete", "flush", "merge"}


def test_web_does_no_sql() -> None:
    """No module under gateway/web imports SQLAlchemy or calls a session's methods: queries live in gateway/store."""
    web = sorted((ROOT / "gateway" / "web").rglob("*.py"))
    assert web, "gateway/web has no modules: the test would pass on nothing"
    offenders = []
    for path in web:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else []
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"db", "session"}
                and node.func.attr in SESSION_METHODS
            ):
                names = [f"{node.func.value.id}.{node.func.attr}()"]
            else:
                continue
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] == "sqlalchemy" or name.endswith("()")
            ]
    assert not offenders
