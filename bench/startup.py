"""How long `make local` takes to be ready, dependencies installed (issue 3's goal: <= 15 s).

Runs `python -m local_aws up` on free ports: the first run in a fresh state folder (cold: the
provider is linked into a new Terraform data dir), the next runs reusing it (warm: what a
developer's second `make local` does). Each phase is timed from the stack's own progress lines.

    .venv/bin/python bench/startup.py [--runs 3]
"""
from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.support.embedded_aws import free_port  # noqa: E402

# Each progress line ends the phase named beside it.
PHASES = [("Starting the embedded AWS", "python start"), ("Applying", "embedded AWS"),
          ("Starting the local API", "terraform init + apply"), ("Local stack ready", "data plane")]


def one_run(state_dir: Path) -> dict[str, float]:
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "local_aws", "up", "--state-dir", str(state_dir), "--aws-port", str(free_port()),
         "--api-port", str(free_port()), "--auth-port", str(free_port())],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    marks: dict[str, float] = {}
    for line in process.stdout:
        for prefix, name in PHASES:
            if line.startswith(prefix):
                marks[name] = time.monotonic() - started
        if "data plane" in marks:
            break
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    if "data plane" not in marks:
        raise SystemExit("make local did not get ready; see the state folder's logs: " + str(state_dir / "logs"))
    names = [name for _, name in PHASES]
    return {name: marks[name] - (marks[names[i - 1]] if i else 0.0) for i, name in enumerate(names)} | {"total": marks["data plane"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs in all; the first is cold (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [one_run(Path(tmp) / "state") for _ in range(args.runs)]
    print(f"{'run':<8}" + "".join(f"{name:>24}" for name in runs[0]))
    for i, run in enumerate(runs):
        print(f"{'cold' if i == 0 else 'warm':<8}" + "".join(f"{seconds:>23.1f}s" for seconds in run.values()))
    if len(runs) > 1:
        print(f"warm median total: {statistics.median(r['total'] for r in runs[1:]):.1f} s; cold: {runs[0]['total']:.1f} s")


if __name__ == "__main__":
    main()
