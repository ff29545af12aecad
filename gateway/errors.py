"""The gateway's error root; library errors are converted to these where they arise."""


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""


class StoreError(GatewayError):
    """The SQL store could not be opened, migrated or written."""


class ProjectionError(GatewayError):
    """A valid message could not be applied to the store; it goes to the dead letters."""
