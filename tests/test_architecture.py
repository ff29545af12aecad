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
