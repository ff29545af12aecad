"""The script an IT person writes in an afternoon: paho in, one row per event, batches of 500. A baseline.

``python -m bench.handwritten postgresql URL HOST PORT CLIENT_ID`` (psycopg) or
``python -m bench.handwritten sqlite PATH HOST PORT CLIENT_ID`` (sqlite3, its defaults). What
issue 21 sets the gateway against, written the way such a script is written, not the way the
gateway is: a persistent session (clean session off) at QoS 1 with paho's automatic
acknowledgement (a message is acknowledged as soon as ``on_message`` returns, before its row is
committed), each event decoded with ``json.loads`` and nothing else checked, and a loop that
writes what arrived with one ``executemany`` of up to 500 rows, ``ON CONFLICT DO NOTHING`` on
(agent, seq), and commits. Messages without a seq (agent status) are skipped.

It loses what it acknowledged and had not committed when it is killed: the ingest benchmark
prints how many.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

BATCH = 500
TOPIC = "atelier/v1/#"

CREATE = (
    "CREATE TABLE IF NOT EXISTS events (agent TEXT NOT NULL, seq BIGINT NOT NULL, machine TEXT, type TEXT, "
    "ts TIMESTAMP WITH TIME ZONE, payload TEXT, PRIMARY KEY (agent, seq))"
)
INSERT = {
    "postgresql": "INSERT INTO events VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
    "sqlite": "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
}
COUNT = "SELECT count(*), count(DISTINCT agent || '/' || seq) FROM events"


def connect(kind: str, target: str) -> Any:
    if kind == "postgresql":
        return psycopg.connect(target)
    return sqlite3.connect(target)


def main(argv: list[str]) -> int:
    kind, target, host, port, client_id = argv
    conn = connect(kind, target)
    conn.execute(CREATE)
    conn.commit()
    rows: list[tuple[Any, ...]] = []
    lock = threading.Lock()

    def on_connect(client: mqtt.Client, *_: object) -> None:
        client.subscribe(TOPIC, qos=1)

    def on_message(_client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            event = json.loads(msg.payload)
        except ValueError:
            return
        if "seq" not in event:
            return
        row = (event["agent"], event["seq"], event.get("machine"), event.get("type"), event["ts"], msg.payload.decode())
        with lock:
            rows.append(row)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=False)
    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(host, int(port))
    client.loop_start()
    cursor = conn.cursor()
    while True:
        with lock:
            batch = rows[:BATCH]
            del rows[:BATCH]
        if not batch:
            time.sleep(0.05)
            continue
        cursor.executemany(INSERT[kind], batch)
        conn.commit()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
