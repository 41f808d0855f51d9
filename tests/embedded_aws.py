"""A real embedded AWS (moto server process, with the project's extra operations) for tests."""
from __future__ import annotations

import socket
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from local_aws import aws, stack


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class EmbeddedAws:
    url: str
    process: subprocess.Popen

    def client(self, service: str):
        return aws.client(service, self.url)

    @classmethod
    @contextmanager
    def start(cls, log_dir: Path) -> Iterator["EmbeddedAws"]:
        log = open(log_dir / "embedded-aws.log", "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "local_aws.embedded", "--port", str(free_port())],
            cwd=stack.REPO, stdout=subprocess.PIPE, stderr=log, text=True,
        )
        try:
            line = process.stdout.readline()
            assert line.startswith("ready "), f"embedded AWS did not start: {line!r}; log: {log_dir}"
            yield cls(line.split()[1], process)
        finally:
            process.terminate()
            process.wait(timeout=10)
            log.close()
