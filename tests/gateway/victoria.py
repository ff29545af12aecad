"""A real server speaking the InfluxDB v2 write API: Debian's victoria-metrics, on a free loopback port.

Debian's influxdb 1.6 has no v2 API and InfluxDB 2 is not packaged; victoria-metrics
accepts influxdb-client's /api/v2/write, and what it stored is read back through its
/api/v1/export. Tests may freeze (SIGSTOP), stop and restart it on the same port.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

from atelier.broker import free_port, wait_for_port

Series = dict[str, list[tuple[int, float]]]


class VictoriaMetrics:
    def __init__(self, data_dir: Path) -> None:
        binary = shutil.which("victoria-metrics")
        assert binary, "victoria-metrics is missing: make test installs it (apt-get install victoria-metrics)"
        self.binary = binary
        self.data_dir = data_dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.data_dir}",
                "-retentionPeriod=100y",  # the tests' fixed timestamps must never fall out of the retention
                "-loggerLevel=ERROR",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port("127.0.0.1", self.port, timeout_s=15)

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGCONT)  # a frozen process handles SIGTERM only once thawed
                self.process.terminate()
            self.process.wait(15)
            self.process = None

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections, nothing answers: a hung server."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def export(self, name_regex: str) -> Series:
        """Every stored sample as ``{"metric/machine": [(ms, value), ...]}``, sorted by time."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).read()
        query = urllib.parse.urlencode({"match[]": f'{{__name__=~"{name_regex}"}}'})
        body = urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=10).read().decode()
        series: Series = {}
        for text in body.splitlines():
            item = json.loads(text)
            key = f"{item['metric']['__name__']}/{item['metric'].get('machine', '')}"
            series.setdefault(key, []).extend(zip(item["timestamps"], item["values"], strict=True))
        return {k: sorted(v) for k, v in series.items()}
