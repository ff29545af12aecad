"""Ingest: from the broker to committed rows.

``receiver`` (a child process around ``consumer``, the MQTT session) → ``inbox`` → ``service`` (batches,
acknowledgements, replay requests) → ``projection`` (decode, dedupe, ownership, dead letters) → ``writer``
(rows, one statement per table); ``gaps`` follows each agent's contiguous seq.
"""
