"""The gateway's pure domain: attribution, order progress, practice logs, utilisation and OEE.

No I/O here: no database, no MQTT, no web, and no clock — time comes from the
events and from the ``now`` the caller passes in.
"""
