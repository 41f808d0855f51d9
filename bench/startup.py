"""How long `make local` takes to be ready, dependencies installed (issue 8's goals: <= 12 s, and a
restart with an unchanged root <= 5 s).

Runs `python -m local_aws up` on free ports: the first run in a fresh state folder (cold: the
provider is linked into a new Terraform data dir), the next runs on it after `local-aws reset`
(warm: the provider installed, but the root applied from scratch to an empty embedded AWS), then
restarts (stop, then start with the root unchanged: the embedded AWS's saved state restored, no
Terraform run). Each phase is timed from the stack's own progress lines.

    .venv/bin/python bench/startup.py [--runs 3] [--restarts 3]
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

# Each progress line ends the phase named beside it (a restart says UNCHANGED instead of "Applying").
PHASES = [("Starting the embedded AWS", "python start"), ("Applying", "embedded AWS"),
          ("Starting the local API", "terraform init + apply"), ("Local stack ready", "data plane")]
UNCHANGED = "Root unchanged since the last apply"


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
        if line.startswith(UNCHANGED):  # restored: the embedded AWS phase ends here, Terraform takes nothing
            marks["embedded AWS"] = marks["terraform init + apply"] = time.monotonic() - started
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
    parser.add_argument("--runs", type=int, default=3, help="starts from scratch; the first is cold (default 3)")
    parser.add_argument("--restarts", type=int, default=3, help="restarts with the root unchanged, after them (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        runs = []
        for i in range(args.runs):
            if i:  # warm: what a start from scratch costs once the provider is installed
                subprocess.run([sys.executable, "-m", "local_aws", "reset", "--state-dir", str(state)], cwd=REPO,
                               check=True, capture_output=True)
            runs.append(("cold" if i == 0 else "warm", one_run(state)))
        runs += [("restart", one_run(state)) for _ in range(args.restarts)]
    print(f"{'run':<8}" + "".join(f"{name:>24}" for name in runs[0][1]))
    for kind, run in runs:
        print(f"{kind:<8}" + "".join(f"{seconds:>23.1f}s" for seconds in run.values()))
    totals = {kind: [run["total"] for k, run in runs if k == kind] for kind in ("cold", "warm", "restart")}
    print("; ".join(f"{kind} median total: {statistics.median(found):.1f} s ({min(found):.1f}-{max(found):.1f})"
                    for kind, found in totals.items() if found))


if __name__ == "__main__":
    main()
