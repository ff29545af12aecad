"""Load a TOML file into a pydantic model and report every problem with file, key, value and expectation.

Both daemons and the machine profiles use this, so that every configuration
error in Atelier reads the same way and never shows a traceback.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    key: str
    found: str
    expected: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        found = f" (found {self.found})" if self.found else ""
        return f"{where}: {self.expected}{found}"


class ConfigError(Exception):
    """One or more problems in a configuration or profile file."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as err:
        raise ConfigError([Problem(str(path), "", "", "file not found")]) from err
    except PermissionError as err:
        raise ConfigError([Problem(str(path), "", "", "file not readable (permission denied)")]) from err
    except IsADirectoryError as err:
        raise ConfigError([Problem(str(path), "", "", "is a directory, expected a TOML file")]) from err
    except OSError as err:
        raise ConfigError([Problem(str(path), "", "", f"file not readable: {err.strerror or err}")]) from err
    except UnicodeDecodeError as err:
        raise ConfigError([Problem(str(path), "", "", f"not UTF-8 text: {err.reason} at byte {err.start}")]) from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([Problem(str(path), "", "", f"not valid TOML: {err}")]) from err


def validate(model: type[M], data: dict[str, Any], *, file: str, prefix: str = "") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(problems_from(err, file=file, prefix=prefix)) from err


def load(path: Path, model: type[M]) -> M:
    return validate(model, read_toml(path), file=str(path))


def problems_from(err: ValidationError, *, file: str, prefix: str = "") -> list[Problem]:
    problems = []
    for item in err.errors():
        key = ".".join(str(p) for p in item["loc"] if not _is_union_tag(p))
        if prefix:
            key = f"{prefix}.{key}" if key else prefix
        found = "" if item["type"] == "missing" else _show(item.get("input"))
        expected = "required key is missing" if item["type"] == "missing" else _expectation(item)
        problems.append(Problem(file, key, found, expected))
    return problems


def _is_union_tag(part: object) -> bool:
    # pydantic inserts the model or tag name of a union member into the location.
    return isinstance(part, str) and (part[:1].isupper() or part.startswith("function-"))


def _expectation(item: Any) -> str:
    if item["type"] == "extra_forbidden":
        return "unknown key (check the spelling)"
    msg: str = item["msg"]
    return f"expected {msg[0].lower()}{msg[1:]}" if msg else "invalid value"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
