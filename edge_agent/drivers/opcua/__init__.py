"""OPC UA driver: asyncua subscriptions with polling as fallback, security, alarms as condition events."""
