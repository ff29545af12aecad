"""Haas Q-command replies in both framings, from recorded exchanges."""

from __future__ import annotations

import pytest

from edge_agent.drivers.serial import haas_q
from tests.edge_agent.serial.conftest import TS, haas_exchanges, values


def replies(name: str, framing: haas_q.Framing) -> list[tuple[str, str]]:
    framer = haas_q.Framer(framing)
    out = []
    for request, received in haas_exchanges(name):
        frames = framer.feed(received)
        assert len(frames) == 1, (request, frames)
        out.append((request.lstrip("?"), frames[0]))
    assert framer.noise_bytes == 0  # the echoed requests and the extra line are expected
    return out


def readings(name: str, framing: haas_q.Framing) -> dict[str, object]:
    got: dict[str, object] = {}
    for command, frame in replies(name, framing):
        try:
            reply = haas_q.parse_reply(frame)
        except haas_q.HaasReplyError:
            continue
        assert haas_q.answers(command, reply)
        got.update(values(haas_q.readings(command, reply, TS)))
    return got


def test_rs232_stx_etb_replies_give_every_field():
    got = readings("rs232.txt", "stx-etb")
    assert got == {
        "q500_program": "O00110",
        "q500_status": "BUSY",  # the later STATUS, BUSY reply wins
        "q500_parts": 4523,
        "q500_alarm": None,
        "q104_mode": "MEM",
        "q303_last_cycle_s": 73.0,
        "q304_prev_cycle_s": 59.0,
        "q402_m30_1": 380,
        "q403_m30_2": 381,
        "q300_power_on_s": 6282 * 3600 + 17 * 60 + 13.0,
        "q301_motion_s": 98 * 3600 + 18 * 60 + 29.0,
        "q201_tool": "3",
    }


def test_tcp_prompt_replies_including_double_prompt_and_macro():
    got = readings("tcp.txt", "prompt")
    assert got["q100_serial"] == "1234567"
    assert (got["q500_program"], got["q500_status"]) == ("MDI", "ALARM ON")
    assert got["q500_alarm"] == {"code": "ALARM ON", "message": "alarm on the control (Q500)", "severity": "fault"}
    assert got["q104_mode"] == "ZERO RET"
    assert got["q600_3027"] == 1200.0


@pytest.mark.parametrize("text", ["UNKNOWN", "INVALID NUMBER", "?, ?Q999", ">", "PROGRAM"])
def test_refusals_and_empty_replies_are_errors(text):
    with pytest.raises(haas_q.HaasReplyError):
        haas_q.parse_reply(text)


def test_a_reply_for_another_client_is_recognised_by_its_label():
    reply = haas_q.parse_reply("SERIAL NUMBER, 1234567")
    assert not haas_q.answers("Q500", reply)
    assert haas_q.answers("Q500", haas_q.parse_reply("STATUS, BUSY"))


def test_noise_outside_frames_is_counted_and_a_split_frame_is_joined():
    framer = haas_q.Framer("stx-etb")
    assert framer.feed(b"\x00\xffgarbage\r\n\x02MODE, (M") == []
    assert framer.feed(b"EM)\x17") == ["MODE, (MEM)"]
    assert framer.noise_bytes == len(b"\x00\xffgarbage\r\n")
    assert framer.feed(b"x" * 600) == []  # a runaway without framing is dropped, not buffered forever
    assert framer.noise_bytes > 600


def test_malformed_values_raise_a_reply_error():
    with pytest.raises(haas_q.HaasReplyError):
        haas_q.readings("Q303", haas_q.parse_reply("LAST CYCLE, 12 minutes"), TS)


def test_requests_per_framing():
    assert haas_q.request("Q500", "prompt") == b"?Q500\r\n"
    assert haas_q.request("Q500", "stx-etb") == b"Q500\r\n"
