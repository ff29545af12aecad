"""The gateway's MQTT sessions to its broker: ingest's and the network collector's are made the same way.

A persistent MQTT v5 session (clean start off, the session kept for ``session_expiry_s``)
with manual acknowledgements: a message is acknowledged only once what it says is
committed, so a gateway killed between the two receives it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.config import GatewaySettings

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30


def session_client(
    settings: GatewaySettings,
    client_id: str,
    *,
    on_connect: Callable[..., Any],
    on_disconnect: Callable[..., Any],
    on_subscribe: Callable[..., Any],
    on_message: Callable[..., Any],
) -> mqtt.Client:
    """A paho client for the broker of ``settings``, with its credentials and TLS, that acknowledges by hand."""
    broker = settings.broker
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls is not None:
        tls = broker.tls
        client.tls_set(ca_certs=_str(tls.ca_file), certfile=_str(tls.cert_file), keyfile=_str(tls.key_file))
    client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    return client


def connect_persistent(client: mqtt.Client, settings: GatewaySettings, *, receive_maximum: int | None = None) -> None:
    """Connect in the background to the session kept by the broker, and start paho's network thread.

    ``receive_maximum`` bounds the unacknowledged messages the broker sends ahead of the commits."""
    broker = settings.broker
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = settings.ingest.session_expiry_s
    if receive_maximum is not None:
        properties.ReceiveMaximum = receive_maximum
    client.connect_async(
        broker.host, broker.port, keepalive=broker.keepalive_s, clean_start=False, properties=properties
    )
    client.loop_start()


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)
