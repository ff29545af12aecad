"""The edge agent's error root; library errors are converted to these where they arise."""


class EdgeAgentError(Exception):
    """Root of every error the edge agent raises on purpose."""


class DriverError(EdgeAgentError):
    """A machine link failed; the machine's task (``pipeline.run_machine``) marks it UNAVAILABLE and retries."""


class OutboxError(EdgeAgentError):
    """The outbox could not store an item (disk full, database locked or damaged)."""
