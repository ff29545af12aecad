"""Line box lines: the documented format, hysteresis on the spindle current, noise rejected."""

from __future__ import annotations

import pytest

from edge_agent.drivers.serial import linebox
from tests.edge_agent.serial.conftest import TS, transcript_lines, values


def test_session_transcript():
    decoder = linebox.LineboxReadings(on_a=1.0, off_a=0.6)
    out = [
        values(decoder.readings(linebox.parse_line(line), TS)) for line in transcript_lines("linebox", "session.txt")
    ]
    assert out[0] == {"reset": True, "firmware": "1.0"}
    spindle = [o.get("spindle") for o in out[1:]]
    # 4.82 A switches on; 0.80 A stays on (hysteresis); 0.40 A switches off.
    assert spindle == ["off", "on", "on", "off", "off", "off", "on", "off"]
    assert out[2]["current"] == 4.82
    assert [o["parts"] for o in out[1:]] == [0, 0, 0, 0, 1, 1, 1, 2]
    assert out[6]["door"] == "open"
    assert out[7]["firmware"] == "1.1"


@pytest.mark.parametrize("line", transcript_lines("linebox", "noise.txt"))
def test_noise_lines_are_rejected(line):
    with pytest.raises(linebox.LineboxParseError):
        linebox.parse_line(line)


def test_overlong_line_is_rejected():
    with pytest.raises(linebox.LineboxParseError):
        linebox.parse_line("parts=1 " * 20)
