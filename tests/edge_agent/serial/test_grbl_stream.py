"""Program loading and the character-counting streamer; ``atelier edge send`` through the control socket."""

from __future__ import annotations

import pytest

from edge_agent.drivers import build
from edge_agent.drivers.serial.grbl_control import send_program
from edge_agent.drivers.serial.grbl_driver import GrblDriver
from edge_agent.drivers.serial.grbl_stream import RX_BUFFER, ProgramError, Streamer, load_program
from tests.edge_agent.serial.conftest import wait_for


def test_load_program_strips_comments_blank_lines_and_percent():
    assert load_program("%\n(header)\nG21 ; mm\n\n  G0 X1 (rapid) Y2  \n%\n") == ["G21", "G0 X1  Y2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("G0 X1\nG1 X" + "1" * 90, "line 2: 94 characters"),
        ("G0 X1!", "realtime"),
        ("G0 X\u00e9", "characters"),
        ("(only)", "no G-code"),
    ],
)
def test_programs_grbl_cannot_take_are_refused_naming_the_line(text, message):
    with pytest.raises(ProgramError, match=message):
        load_program(text)


def test_streamer_never_exceeds_the_buffer_and_sends_eeprom_lines_alone():
    lines = [f"G1 X{i} Y{i * 2} F600" for i in range(30)] + ["G10 L20 P1 X0", "$132=50"] + ["G0 X0"] * 10
    streamer = Streamer(lines)
    sent: list[str] = []
    while not streamer.all_acked:
        batch = streamer.take()
        assert streamer.in_flight <= RX_BUFFER
        if any(line.startswith(("G10", "$")) for line in batch):
            assert len(batch) == 1
            assert streamer.in_flight == len(batch[0]) + 1
        sent += batch
        assert streamer.ack()
    assert sent == lines
    assert streamer.peak_in_flight > RX_BUFFER - 20
    assert not streamer.ack()  # an ok nobody waits for


def write_config(tmp_path, port: str) -> object:
    config = tmp_path / "edge.toml"
    config.write_text(
        f'[agent]\nid = "pc"\nsite = "school"\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[[machines]]\nid = "router"\ndriver = "serial"\nprofile = "grbl-1.1"\n'
        f'[machines.options]\nport = "{port}"\n\n'
        f'[[machines]]\nid = "sim"\ndriver = "simulator"\n'
    )
    return config


async def test_send_program_reaches_the_running_driver(grbl_sim, tmp_path, collect, capsys):
    config = write_config(tmp_path, grbl_sim.path)
    job = tmp_path / "sign.nc"
    job.write_text("G21\nG1 X5 F600\nG1 Y5\nM30\n")
    # Not yet connected: refused at once, nothing queued.
    assert await _send(config, "router", job) == 1
    assert "not connected" in capsys.readouterr().err

    options = {"dialect": "grbl", "port": grbl_sim.path, "state_dir": str(tmp_path / "state")}
    driver = build("serial", machine_id="router", options=options, profile=None)
    assert isinstance(driver, GrblDriver)
    collect(driver)
    await wait_for(lambda: driver.state == "Idle")
    assert await _send(config, "router", job) == 0
    assert "sign.nc started on router (4 lines)" in capsys.readouterr().out
    await wait_for(lambda: driver.last_job is not None)
    assert driver.last_job is not None
    assert driver.last_job.name == "sign.nc"
    assert str(driver.last_job.outcome) == "completed"

    bad = tmp_path / "bad.nc"
    bad.write_text("G0 X1 ! Y2\n")
    assert await _send(config, "router", bad) == 2
    assert "line 1" in capsys.readouterr().err
    assert await _send(config, "nope", job) == 2
    assert await _send(config, "sim", job) == 2
    assert await _send(config, "router", tmp_path / "missing.nc") == 2


async def _send(config, machine, file) -> int:
    import asyncio

    return await asyncio.to_thread(send_program, config, machine, file)
