"""The edge agent: reads machines, detects cycles and parts, publishes to MQTT through a disk outbox."""

from plumbing import __version__

__all__ = ["__version__"]
