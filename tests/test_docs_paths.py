"""Every file, folder and module the README and docs/ name exists, so that the map cannot rot.

A path counts when it starts at a top-level folder of the repository (``gateway/store/db.py``,
``tests/e2e/``), brace lists and globs included (``gateway/store/{orders,students}_repo.py``,
``machine_profiles/*.toml``); a module when it is a dotted name in backquotes
(``gateway.store.db.upgrade``): the module must exist and define the names after it. Relative
Markdown links must reach a file.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]
ROOTS = (
    "plumbing",
    "edge_agent",
    "gateway",
    "atelier",
    "tests",
    "bench",
    "harness",
    "docs",
    "machine_profiles",
    "systemd",
    "examples",
    "scripts",
)
PACKAGES = ("plumbing", "edge_agent", "gateway", "atelier", "bench", "harness")
# Inside a daemon's picture a path may start at the daemon's folder: ``ingest/receiver.py`` is the gateway's.
WITHIN = {
    "ingest": "gateway",
    "store": "gateway",
    "web": "gateway",
    "domain": "gateway",
    "drivers": "edge_agent",
    "simulators": "atelier",
}
# The bus's topics start like a folder of the repository: atelier/v1/{site}/...
TOPIC = re.compile(r"atelier/v\d+(/|$)")
FILE_SUFFIXES = (".py", ".toml", ".md", ".json", ".html", ".css", ".js", ".service", ".sh", ".png", ".jsonl", ".db")

PATH = re.compile(rf"(?<![\w./-])((?:{'|'.join((*ROOTS, *WITHIN))})/[\w./*{{}},@-]*)")
MODULE = re.compile(rf"`((?:{'|'.join(PACKAGES)})(?:\.\w+)+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def expand(pattern: str) -> list[str]:
    """``a/{b,c}.py`` -> ``a/b.py``, ``a/c.py`` (the first brace list, then recursively)."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    return [
        name
        for choice in match.group(1).split(",")
        for name in expand(pattern[: match.start()] + choice + pattern[match.end() :])
    ]


def named_paths(text: str) -> set[str]:
    found = set()
    for raw in PATH.findall(text):
        path = raw.rstrip(".,;:")
        if TOPIC.match(path):
            continue
        top = path.split("/", 1)[0]
        found.add(f"{WITHIN[top]}/{path}" if top in WITHIN else path)
    return found


def missing_path(path: str) -> bool:
    for each in expand(path):
        if "*" in each:
            if not any(ROOT.glob(each)):
                return True
        elif not (ROOT / each).exists():
            return True
    return False


@cache
def defined_names(source: Path) -> frozenset[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return frozenset(names)


def module_file(parts: list[str]) -> Path | None:
    base = ROOT.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def missing_module(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        source = module_file(parts[:cut])
        if source is not None:
            return not all(name in defined_names(source) for name in parts[cut:])
    return True


def problems(doc: str) -> list[str]:
    path = ROOT / doc
    text = path.read_text()
    wrong = [f"{doc}: no such path {p}" for p in sorted(named_paths(text)) if missing_path(p)]
    wrong += [
        f"{doc}: no such module or name {m}"
        for m in sorted(set(MODULE.findall(text)))
        if not m.endswith(FILE_SUFFIXES) and missing_module(m)
    ]
    for target in sorted(set(LINK.findall(text))):
        local = target.split("#", 1)[0]
        if local and "://" not in target and not (path.parent / local).exists():
            wrong.append(f"{doc}: broken link {target}")
    return wrong


@pytest.mark.parametrize("doc", CHECKED)
def test_every_path_and_module_a_doc_names_exists(doc: str) -> None:
    assert (ROOT / doc).is_file(), f"{doc} is gone: update CHECKED"
    assert problems(doc) == []


def test_the_architecture_page_names_the_rooms_it_maps() -> None:
    """The check above would pass on a page that names nothing; this one holds it to the whole house."""
    named = named_paths((ROOT / "docs/architecture.md").read_text())
    for room in ("plumbing/", "gateway/ingest/", "gateway/store/", "gateway/domain/", "gateway/web/", "atelier/"):
        assert any(p.startswith(room) for p in named), room


def test_the_checker_sees_a_wrong_path_a_wrong_module_and_a_broken_link(tmp_path: Path) -> None:
    text = "`gateway/no_such.py`, gateway/store/{db,nothing}.py, `gateway.store.db.no_such_name`, [x](nowhere.md)"
    assert named_paths(text) == {"gateway/no_such.py", "gateway/store/{db,nothing}.py"}
    within = {"gateway/ingest/receiver.py", "edge_agent/drivers/opcua/"}
    assert named_paths("ingest/receiver.py, drivers/opcua/") == within
    assert missing_path("gateway/no_such.py")
    assert missing_path("gateway/store/{db,nothing}.py")
    assert not missing_path("gateway/store/{db,bulk}.py")
    assert not missing_path("machine_profiles/*.toml")
    assert missing_path("machine_profiles/*.yaml")
    assert missing_module("gateway.store.db.no_such_name")
    assert not missing_module("gateway.store.db.upgrade")
    assert not missing_module("edge_agent.contract")
    assert named_paths("atelier/v1/{site}/{machine}/state, atelier/v2") == set()
