"""Each message of a batch decoded with the contract once, before anything is written.

A payload the contract refuses becomes its ``ContractError``, whose reason goes
to the dead letters; nothing here raises.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from edge_agent import contract
from gateway.ingest.messages import Received

logger = logging.getLogger(__name__)

Decoded = tuple[contract.Topic, contract.Message] | contract.ContractError
Entry = tuple[Received, Decoded]
# Numbered in the agent's event sequence: deduplicated by (agent, seq), gaps repaired by replay.
SEQUENCED_TYPES = (contract.StateMessage, *contract.EVENT_TYPES)
# Published on a machine's topics: stored only if the agent they name owns the machine.
MACHINE_TYPES = (*SEQUENCED_TYPES, contract.Telemetry)


def decode_all(batch: Sequence[Received]) -> list[Entry]:
    return [(item, decode(item)) for item in batch]


def decode(item: Received) -> Decoded:
    try:
        return contract.decode(item.topic, item.payload)
    except contract.ContractError as err:
        return err
    except Exception as err:  # the contract promises ContractError only; should it ever break that, dead-letter
        logger.exception("contract.decode raised %s for topic=%r", type(err).__name__, item.topic)
        return contract.ContractError(f"payload cannot be decoded: {type(err).__name__}")
