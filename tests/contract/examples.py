"""One example of every message on the bus, with fixed values: the source of the golden files."""

from __future__ import annotations

from datetime import UTC, date, datetime

from edge_agent import contract as c

TS = datetime(2026, 11, 25, 8, 30, 15, 250000, tzinfo=UTC)
STARTED = datetime(2026, 11, 25, 8, 28, 40, tzinfo=UTC)
SITE = "lyon"
AGENT = "atelier-pc-1"
MACHINE = "dmg-mill-1"
IDS = {"agent": AGENT, "machine": MACHINE, "ts": TS}

STATE = c.MachineState(
    availability=c.Availability.AVAILABLE,
    execution=c.Execution.ACTIVE,
    mode=c.Mode.AUTOMATIC,
    program="BRIDE_A12.MPF",
    line=118,
    part_count=42,
    tool="T12",
    spindle_speed=3200.0,
    spindle_load=37.5,
    feed_rate=850.0,
    feed_override=100.0,
    spindle_override=95.0,
    alarms=(c.Alarm(code="700012", message="Coolant level low", severity=c.Severity.WARNING),),
    emergency_stop=False,
)

# (golden file stem, topic, message)
EXAMPLES: list[tuple[str, str, c.Message]] = [
    ("state", c.machine_topic(SITE, MACHINE, "state"), c.StateMessage(seq=101, state=STATE, **IDS)),
    (
        "state_changed",
        c.machine_topic(SITE, MACHINE, "event"),
        c.StateChanged(
            seq=102,
            availability=c.Availability.AVAILABLE,
            execution=c.Execution.FEED_HOLD,
            mode=c.Mode.AUTOMATIC,
            **IDS,
        ),
    ),
    ("cycle_started", c.machine_topic(SITE, MACHINE, "event"), c.CycleStarted(seq=103, program="BRIDE_A12.MPF", **IDS)),
    (
        "cycle_ended",
        c.machine_topic(SITE, MACHINE, "event"),
        c.CycleEnded(
            seq=104,
            program="BRIDE_A12.MPF",
            started=STARTED,
            duration_s=95.25,
            held_s=12.0,
            parts=1,
            outcome=c.CycleOutcome.COMPLETED,
            **IDS,
        ),
    ),
    (
        "part_counted",
        c.machine_topic(SITE, MACHINE, "event"),
        c.PartCounted(seq=105, count=1, counter=43, program="BRIDE_A12.MPF", **IDS),
    ),
    (
        "alarm_raised",
        c.machine_topic(SITE, MACHINE, "event"),
        c.AlarmRaised(seq=106, alarm=c.Alarm(code="2000", message="Emergency stop", severity=c.Severity.FAULT), **IDS),
    ),
    ("alarm_cleared", c.machine_topic(SITE, MACHINE, "event"), c.AlarmCleared(seq=107, code="2000", **IDS)),
    (
        "program_changed",
        c.machine_topic(SITE, MACHINE, "event"),
        c.ProgramChanged(seq=108, program="AXE_B7.MPF", previous="BRIDE_A12.MPF", **IDS),
    ),
    (
        "telemetry",
        c.machine_topic(SITE, MACHINE, "telemetry"),
        c.Telemetry(seq=9001, spindle_speed=3200.0, spindle_load=37.5, feed_rate=850.0, **IDS),
    ),
    (
        "status_online",
        c.agent_topic(SITE, AGENT, "status"),
        c.AgentStatus(
            agent=AGENT, ts=TS, status="online", version="0.1.0", machines=(MACHINE, "haas-lathe-2"), site=SITE
        ),
    ),
    (
        "replay_request",
        c.agent_topic(SITE, AGENT, "replay"),
        c.ReplayRequest(agent=AGENT, ts=TS, first=57, last=63, requester="gateway-1"),
    ),
]

# A school's aggregates for the network: no agent, no seq, no person (see docs/network.md).
DAY_START = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 25/11 in Europe/Paris
DAY_END = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)
MILL = c.MachineAggregate(
    machine=MACHINE,
    online=True,
    planned_h=8.0,
    running_h=5.25,
    free_h=2.75,
    good=41,
    scrap=2,
    oee=0.58,
    stops=c.StopHours(setup=0.75, organisation=0.5, technical=0.25, planned=1.0, unclassified=0.25),
)
LATHE = c.MachineAggregate(
    machine="haas-lathe-2", online=False, planned_h=8.0, running_h=0.0, free_h=8.0, good=0, scrap=0, oee=None
)
NETWORK_EXAMPLES: list[tuple[str, str, c.NetworkAggregate]] = [
    (
        "network_day",
        c.network_topic(SITE),
        c.NetworkAggregate(
            site=SITE,
            ts=TS,
            period="day",
            day=date(2026, 11, 25),
            start=DAY_START,
            end=DAY_END,
            final=True,
            machines=(MILL, LATHE),
            practice=(
                c.PracticeHours(class_label="CAP1", track="CAP", hours=21.5),
                c.PracticeHours(class_label="BP2", track="BAC_PRO", hours=12.0),
            ),
        ),
    ),
    (
        "network_hour",
        c.network_topic(SITE),
        c.NetworkAggregate(
            site=SITE,
            ts=TS,
            period="hour",
            day=date(2026, 11, 25),
            start=datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
            end=TS,
            final=False,
            machines=(
                MILL.model_copy(
                    update={"planned_h": 0.5, "running_h": 0.5, "free_h": 0.0, "good": 4, "scrap": 0}
                ).model_copy(update={"stops": c.StopHours()}),
            ),
            practice=(c.PracticeHours(class_label="CAP1", track="CAP", hours=1.5),),
        ),
    ),
]
