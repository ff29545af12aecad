"""A strict little reader of the Prometheus text format (0.0.4), enough to check what /metrics serves."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_HELP = re.compile(rf"^# HELP ({_NAME}) (.*)$")
_TYPE = re.compile(rf"^# TYPE ({_NAME}) (counter|gauge|histogram|summary|untyped)$")
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

LabelSet = tuple[tuple[str, str], ...]


@dataclass
class Scrape:
    types: dict[str, str] = field(default_factory=dict)
    samples: dict[tuple[str, LabelSet], float] = field(default_factory=dict)

    def value(self, name: str, **labels: str) -> float:
        return self.samples[(name, tuple(sorted(labels.items())))]

    def names(self) -> set[str]:
        return {name for name, _ in self.samples}


def parse(text: str) -> Scrape:
    """Raise AssertionError naming the first line that is not valid exposition text."""
    assert text.endswith("\n"), "the exposition must end with a line feed"
    scrape = Scrape()
    for number, line in enumerate(text[:-1].split("\n"), start=1):
        if line.startswith("#"):
            typed = _TYPE.match(line)
            assert typed or _HELP.match(line), f"line {number}: bad comment {line!r}"
            if typed:
                assert typed[1] not in scrape.types, f"line {number}: {typed[1]} typed twice"
                scrape.types[typed[1]] = typed[2]
            continue
        sample = _SAMPLE.match(line)
        assert sample, f"line {number}: not a sample {line!r}"
        name, label_text, value_text = sample[1], sample[2] or "", sample[3]
        assert _family(name, scrape.types), f"line {number}: {name} has no TYPE line before it"
        labels = _labels(label_text, number)
        key = (name, tuple(sorted(labels.items())))
        assert key not in scrape.samples, f"line {number}: duplicate sample {line!r}"
        scrape.samples[key] = _number(value_text, number)
    return scrape


def _family(name: str, types: dict[str, str]) -> str | None:
    if name in types:
        return name
    for suffix in _HISTOGRAM_SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and types.get(base) == "histogram":
            return base
    return None


def _labels(text: str, number: int) -> dict[str, str]:
    labels: dict[str, str] = {}
    position = 0
    while position < len(text):
        found = _LABEL.match(text, position)
        assert found, f"line {number}: bad labels {text!r}"
        labels[found[1]] = found[2].replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        position = found.end()
        if position < len(text):
            assert text[position] == ",", f"line {number}: bad labels {text!r}"
            position += 1
    return labels


def _number(text: str, number: int) -> float:
    special = {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
    if text in special:
        return special[text]
    try:
        return float(text)
    except ValueError:
        raise AssertionError(f"line {number}: bad value {text!r}") from None


def histogram_is_consistent(scrape: Scrape, name: str) -> bool:
    """Buckets cumulative and ending at +Inf with the count."""
    buckets = sorted(
        (float("inf") if dict(labels)["le"] == "+Inf" else float(dict(labels)["le"]), value)
        for (sample, labels), value in scrape.samples.items()
        if sample == f"{name}_bucket"
    )
    counts = [value for _, value in buckets]
    return bool(buckets) and counts == sorted(counts) and buckets[-1] == (math.inf, scrape.value(f"{name}_count"))
