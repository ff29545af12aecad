"""GRBL output parsing, from transcripts recorded against GRBL 1.1h."""

from __future__ import annotations

import pytest

from edge_agent.drivers.serial import grbl
from tests.edge_agent.serial.conftest import TS, transcript_lines, values


def statuses() -> list[grbl.Status]:
    return [grbl.parse_status(line) for line in transcript_lines("grbl", "status_fields.txt")]


def test_every_state_and_substate_is_parsed():
    got = {(s.state, s.substate) for s in statuses()}
    assert got >= {("Idle", None), ("Run", None), ("Jog", None), ("Alarm", None), ("Home", None)}
    assert got >= {("Check", None), ("Sleep", None), ("Hold", 0), ("Hold", 1)}
    assert got >= {("Door", 0), ("Door", 1), ("Door", 2), ("Door", 3)}


def test_optional_fields_in_any_order():
    by_text = dict(zip(transcript_lines("grbl", "status_fields.txt"), statuses(), strict=True))
    run = by_text["<Run|MPos:12.500,3.250,-1.000|FS:600,12000|Ov:120,50,90|A:SFM>"]
    assert (run.mpos, run.feed, run.rpm, run.overrides, run.accessories) == (
        (12.5, 3.25, -1.0),
        600.0,
        12000.0,
        (120, 50, 90),
        "SFM",
    )
    late = by_text["<Idle|Ln:7|Bf:14,127|MPos:1.000,1.000,1.000|FS:0,0>"]
    assert (late.line, late.buffer, late.mpos) == (7, (14, 127), (1.0, 1.0, 1.0))
    feed_only = by_text["<Run|MPos:1.000,1.000,1.000|F:500|Ov:100,100,100|A:C>"]
    assert (feed_only.feed, feed_only.rpm, feed_only.accessories) == (500.0, None, "C")
    assert by_text["<Alarm|MPos:0.000,0.000,0.000|FS:0,0|Pn:XZ>"].pins == "XZ"


def test_readings_carry_every_field_and_derive_positions_from_the_work_offset():
    decoder = grbl.GrblReadings()
    out = [values(decoder.readings(status, TS)) for status in statuses()]
    first = out[0]
    assert (first["wco_x"], first["wpos_x"], first["mpos_x"]) == (-10.0, 10.0, 0.0)
    assert (out[1]["ov_feed"], out[1]["spindle"], out[1]["coolant"]) == (100, "off", "off")
    assert (out[2]["spindle"], out[2]["coolant"], out[2]["ov_rapid"], out[2]["ov_spindle"]) == (
        "cw",
        "flood+mist",
        50,
        90,
    )
    wpos_only = out[3]
    assert (wpos_only["wpos_x"], wpos_only["mpos_x"], wpos_only["mpos_z"]) == (22.5, 12.5, -1.0)
    assert (wpos_only["ln"], wpos_only["bf_blocks"], wpos_only["bf_bytes"]) == (42, 15, 128)
    assert (out[4]["state"], out[4]["substate"], out[4]["pins"]) == ("Hold", 0, "")
    assert out[7]["pins"] == "D"
    assert out[15]["spindle"] == "ccw"


def test_session_messages_alarms_errors_banner_and_program_end():
    decoder = grbl.GrblReadings()
    readings = []
    for line in transcript_lines("grbl", "session.txt"):
        message = grbl.parse_line(line)
        if message is not None:
            readings.extend(decoder.readings(message, TS))
    keys = [(r.key, r.value) for r in readings if r.key in ("reset", "pgm_end", "error", "alarm", "message")]
    assert keys == [
        ("reset", True),
        ("message", "'$H'|'$X' to unlock"),
        ("message", "Caution: Unlocked"),
        ("error", "error:20 Unsupported or invalid G-code command"),
        ("pgm_end", True),
        ("alarm", {"code": "ALARM:1", "message": grbl.ALARMS[1], "severity": "fault"}),
    ]
    assert isinstance(grbl.parse_line(">G54G21:ok"), grbl.StartupEcho)
    assert grbl.parse_line("[OPT:V,15,128]") == grbl.Feedback("OPT", "V,15,128")


def test_alarm_clears_when_the_state_leaves_alarm():
    decoder = grbl.GrblReadings()
    decoder.readings(grbl.AlarmMsg(2), TS)
    still = values(decoder.readings(grbl.parse_status("<Alarm|MPos:0,0,0|FS:0,0>"), TS))
    assert "alarm" not in still
    cleared = values(decoder.readings(grbl.parse_status("<Idle|MPos:0,0,0|FS:0,0>"), TS))
    assert cleared["alarm"] is None


def test_meanings_tables_cover_every_code():
    assert sorted(grbl.ALARMS) == list(range(1, 11))
    assert set(grbl.ERRORS) >= set(range(1, 18)) | set(range(20, 39))
    assert grbl.Error(99).text == "error 99"


@pytest.mark.parametrize("line", transcript_lines("grbl", "noise.txt"))
def test_noise_is_rejected_not_misread(line):
    with pytest.raises(grbl.GrblParseError):
        grbl.parse_line(line)
