"""A real embedded AWS for tests: moto with the project's extra operations (local_aws.embedded).

`EmbeddedAws.start` runs it as its own process, so its state is its own; `in_process` serves it
from a thread of the test process, whose moto backends every in-process server of that process shares.
"""
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
    def start(cls, log_dir: Path, *args: str) -> Iterator["EmbeddedAws"]:
        """A fresh embedded AWS process on a free port, with `args` (such as --state-file PATH); its
        stderr goes to log_dir/embedded-aws.log."""
        log = open(log_dir / "embedded-aws.log", "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "local_aws.embedded", "--port", str(free_port()), *args],
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


@contextmanager
def in_process() -> Iterator[str]:
    """The embedded AWS served on a free port from a thread of this process; yields its URL."""
    from local_aws import embedded  # moto: imported only by the tests that serve it

    server, url = embedded.start(port=0)
    try:
        yield url
    finally:
        server.stop()
