"""How long `make local` takes to be ready, dependencies installed (issue 8's goals: <= 12 s
whatever the number of functions in the root, and a restart with an unchanged root <= 5 s).

Runs `python -m local_aws up` on free ports: the first run in a fresh state folder (cold: the
provider is linked into a new Terraform data dir), the next runs on it after `local-aws reset`
(warm: the provider installed, but the root applied from scratch to an empty embedded AWS), then
restarts (stop, then start with the root unchanged: the embedded AWS's saved state restored, no
Terraform run). Each phase is timed from the stack's own progress lines; the phases overlap now
(the embedded AWS starts while Terraform does, so its phase is about 0). `cpu` is the CPU time of
the whole run, every process of the stack included (up to its stop): steadier than wall times on
a shared machine.

With `--functions N`, the same runs on a generated root of N functions (bench/many_functions.py)
follow this repository's root, to show how the time grows with the number of functions.

    .venv/bin/python bench/startup.py [--runs 3] [--restarts 3] [--functions 20]
"""
from __future__ import annotations

import argparse
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.many_functions import write_root  # noqa: E402
from tests.support.embedded_aws import free_port  # noqa: E402

# Each progress line ends the phase named beside it (a restart says UNCHANGED instead of "Applying").
PHASES = [("Starting the embedded AWS", "python start"), ("Applying", "embedded AWS"),
          ("Starting the local API", "terraform init + apply"), ("Local stack ready", "data plane")]
UNCHANGED = "Root unchanged since the last apply"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(state_dir: Path, root: Path) -> dict[str, float]:
    cpu_before = _children_cpu()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "local_aws", "up", "--root", str(root), "--state-dir", str(state_dir),
         "--aws-port", str(free_port()), "--api-port", str(free_port()), "--auth-port", str(free_port())],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    marks: dict[str, float] = {}
    output = []
    for line in process.stdout:
        output.append(line)
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
        raise SystemExit(f"make local did not get ready; see the state folder's logs: {state_dir / 'logs'}\n"
                         + "".join(output[-30:]))
    names = [name for _, name in PHASES]
    return ({name: marks[name] - (marks[names[i - 1]] if i else 0.0) for i, name in enumerate(names)}
            | {"total": marks["data plane"], "cpu": _children_cpu() - cpu_before})


def runs_of(root: Path, state: Path, starts: int, restarts: int) -> list[tuple[str, dict[str, float]]]:
    runs = []
    for i in range(starts):
        if i:  # warm: what a start from scratch costs once the provider is installed
            subprocess.run([sys.executable, "-m", "local_aws", "reset", "--state-dir", str(state)], cwd=REPO,
                           check=True, capture_output=True)
        runs.append(("cold" if i == 0 else "warm", one_run(state, root)))
    return runs + [("restart", one_run(state, root)) for _ in range(restarts)]


def report(title: str, runs: list[tuple[str, dict[str, float]]]) -> None:
    print(f"\n{title}")
    print(f"{'run':<8}" + "".join(f"{name:>24}" for name in runs[0][1]))
    for kind, run in runs:
        print(f"{kind:<8}" + "".join(f"{seconds:>23.1f}s" for seconds in run.values()))
    for kind in ("cold", "warm", "restart"):
        found = [run for k, run in runs if k == kind]
        if found:
            totals = [run["total"] for run in found]
            print(f"{kind} median total: {statistics.median(totals):.1f} s ({min(totals):.1f}-{max(totals):.1f}), "
                  f"cpu {statistics.median(run['cpu'] for run in found):.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="starts from scratch per root; the first is cold (default 3)")
    parser.add_argument("--restarts", type=int, default=3, help="restarts with the root unchanged, after them (default 3)")
    parser.add_argument("--functions", type=int, default=0,
                        help="also run a generated root of this many functions (bench/many_functions.py)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        roots = {"this repository's root (7 functions)": REPO}
        if args.functions:
            roots[f"generated root ({args.functions} functions)"] = write_root(Path(tmp) / "generated", args.functions)
        for i, (title, root) in enumerate(roots.items()):
            report(title, runs_of(root, Path(tmp) / f"state-{i}", args.runs, args.restarts))


if __name__ == "__main__":
    main()
