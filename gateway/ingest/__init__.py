"""Ingest: from the broker to committed rows.

``receiver`` (a child process around ``consumer``, the MQTT session) → ``inbox`` → ``service`` (batches,
acknowledgements, replay requests) → ``projection`` (one transaction per batch: ``decoding``, ``owners``,
``sequencing``, ``status``, then ``writer``, the rows, one statement per table; ``isolation`` narrows a failing
batch down to the message at fault); ``gaps`` follows each agent's contiguous seq. What the stages hand each
other is in ``messages``. While ingest runs, ``interpreter`` sets the thread switch interval and the garbage
collector for it.
"""
