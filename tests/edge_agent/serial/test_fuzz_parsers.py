"""Random lines into the serial parsers: a reading, None, or the parser's own documented error; nothing else."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.drivers.serial import grbl, haas_q, linebox

# Noise as a serial line delivers it, plus lines that look almost right, which reach deeper branches.
GRBL_LIKE = st.builds(
    lambda state, fields: f"<{state}|{fields}>",
    st.sampled_from(["Idle", "Run", "Hold:0", "Hold:x", "Alarm", "Door:9", "Jog", "Nope", ""]),
    st.lists(
        st.sampled_from(["MPos:", "WPos:", "FS:", "F:", "Ov:", "A:", "Bf:", "Ln:", "WCO:", "Pn:", "xx"]).flatmap(
            lambda key: st.text(alphabet="0123456789.,-eE+SFMCXYZ", max_size=20).map(lambda v: key + v)
        ),
        max_size=6,
    ).map("|".join),
)
LINEBOX_LIKE = st.lists(
    st.sampled_from(["run", "spindle", "count", "amps", "door", "x", ""]).flatmap(
        lambda key: st.text(alphabet="0123456789.-= e", max_size=8).map(lambda v: f"{key}={v}")
    ),
    max_size=5,
).map(" ".join)
lines = st.text(max_size=200)


@settings(max_examples=400, deadline=None)
@given(line=lines | GRBL_LIKE | st.sampled_from(["ok", "error:", "error:x", "ALARM:", "ALARM:99", "[MSG:", "Grbl"]))
def test_grbl_parse_line_raises_only_its_own_error(line: str) -> None:
    with contextlib.suppress(grbl.GrblParseError):
        grbl.parse_line(line)


@settings(max_examples=300, deadline=None)
@given(line=lines | LINEBOX_LIKE)
def test_linebox_parse_line_raises_only_its_own_error(line: str) -> None:
    try:
        pairs = linebox.parse_line(line)
    except linebox.LineboxParseError:
        return
    assert pairs, "a parsed line has at least one known key"


@settings(max_examples=300, deadline=None)
@given(text=lines | st.builds(lambda a, b: f"{a}, {b}", lines, lines))
def test_haas_parse_reply_raises_only_its_own_error(text: str) -> None:
    with contextlib.suppress(haas_q.HaasReplyError):
        haas_q.parse_reply(text)


@settings(max_examples=300, deadline=None)
@given(
    framing=st.sampled_from(["stx-etb", "prompt"]),
    chunks=st.lists(st.binary(max_size=64) | st.sampled_from([b"\x02", b"\x17", b">", b"\r\n", b"\xff"]), max_size=20),
)
def test_haas_framer_never_raises_and_yields_text(framing: haas_q.Framing, chunks: list[bytes]) -> None:
    framer = haas_q.Framer(framing)
    for chunk in chunks:
        assert all(isinstance(text, str) for text in framer.feed(chunk))
