"""The gateway: MQTT ingest into the SQL store, live machine state and the status page."""
