"""HTTP: the REST API, the live status page and its WebSocket."""
