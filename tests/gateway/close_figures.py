"""Figures computed two ways (kept totals against a walk of every cycle) compared field by field: integers and
words exactly, floats within 1e-9 relative (the sums run in another order), slopes near zero within 1e-12."""

from __future__ import annotations

import dataclasses
import math
from typing import Any


def close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if a is None or b is None:
        return a is b
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return all(close(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return bool(a == b)
