"""The network's gateway collects the schools' aggregates (``[network] collect = true``).

A session of its own on the broker, beside ingest's (ingest never subscribes to aggregates): persistent
(clean start off, the ingest's session expiry), so what the schools publish while the gateway is down waits
for it; each message is decoded with the contract and stored (``network_repo.keep``) or dead-lettered in its
own transaction, and acknowledged only after that commit. Aggregates are a few messages per school and
minute at most, so they are written one by one on paho's thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy.exc import SQLAlchemyError

from edge_agent import contract
from gateway.config import GatewaySettings
from gateway.mqtt_session import connect_persistent, session_client
from gateway.store.db import Database
from gateway.store.network_repo import Kept, dead_letter, keep

logger = logging.getLogger(__name__)


class NetworkCollector:
    def __init__(
        self,
        settings: GatewaySettings,
        database: Database,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._database = database
        self._clock = clock
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.counts: dict[str, int] = dict.fromkeys(("stored", "replaced", "unchanged", "older", "dead"), 0)
        self._client = self._build_client()

    def _build_client(self) -> mqtt.Client:
        return session_client(
            self._settings,
            f"{self._settings.client_id}-network",
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
            on_subscribe=self._on_subscribe,
            on_message=self._on_message,
        )

    def start(self) -> None:
        connect_persistent(self._client, self._settings)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()
        self.subscribed.clear()

    def take(self, topic: str, payload: bytes) -> Kept | None:
        """Store one message, or dead-letter it (None); raises only if the store itself fails."""
        now = self._clock()
        try:
            message = contract.decode_aggregate(topic, payload)
        except contract.ContractError as err:
            with self._database.writes.begin() as db:
                dead_letter(db=db, topic=topic, payload=payload, reason=err.reason, received=now)
            self.counts["dead"] += 1
            logger.warning("network aggregate refused topic=%r reason=%s", topic, err.reason)
            return None
        with self._database.writes.begin() as db:
            kept = keep(db=db, message=message, received=now)
        self.counts[kept] += 1
        return kept

    # --- paho callbacks, on its network thread ---------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            logger.warning("broker refused the network collector reason=%r", str(reason))
            return
        self.connected.set()
        # Every school's aggregates, whatever sites this gateway hosts (``gateway.site``: what it ingests):
        # the central pool hosting small schools collects for the whole network (docs/network.md, shapes).
        filters = contract.network_reads()
        group = self._settings.ingest.shared_group
        if group:  # gateways of a pool share the aggregates as they share the machines' stream
            filters = [f"$share/{group}/{f}" for f in filters]
        qos: int = contract.DELIVERY["aggregate"].qos
        client.subscribe([(f, qos) for f in filters])
        logger.info("network collector connected filters=%r", filters)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        if any(r.is_failure for r in reasons):
            logger.error("broker refused the network collector's subscription reasons=%r", [str(r) for r in reasons])
            return
        self.subscribed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connected.clear()
        self.subscribed.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = message._topic.decode("utf-8", "replace")
        try:
            self.take(topic, bytes(message.payload))
        except SQLAlchemyError:
            # Unacknowledged: the broker sends it again on the next session.
            logger.exception("network aggregate not stored (store unwell) topic=%r", topic)
            return
        except Exception:  # an exception here would end paho's thread
            logger.exception("network aggregate not handled topic=%r", topic)
            return
        client.ack(message.mid, message.qos)
