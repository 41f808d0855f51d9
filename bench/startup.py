"""How long `make local` takes to be ready, dependencies installed (issue 8's goal: <= 12 s warm,
whatever the number of functions in the root).

Runs `python -m local_aws up` on free ports: the first run in a fresh state folder (cold: the
provider is linked into a new Terraform data dir), the next runs reusing it (warm: what a
developer's second `make local` does). Each phase is timed from the stack's own progress lines;
`cpu` is the CPU time of the whole run, every process of the stack included (up to its stop),
steadier than wall times on a shared machine.

With `--functions N`, the same runs on a generated root of N functions (bench/many_functions.py)
follow this repository's root, to show how the time grows with the number of functions.

    .venv/bin/python bench/startup.py [--runs 3] [--functions 20]
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

# Each progress line ends the phase named beside it.
PHASES = [("Starting the embedded AWS", "python start"), ("Applying", "embedded AWS"),
          ("Starting the local API", "terraform init + apply"), ("Local stack ready", "data plane")]


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


def report(title: str, runs: list[dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"{'run':<8}" + "".join(f"{name:>24}" for name in runs[0]))
    for i, run in enumerate(runs):
        print(f"{'cold' if i == 0 else 'warm':<8}" + "".join(f"{seconds:>23.1f}s" for seconds in run.values()))
    if len(runs) > 1:
        warm = runs[1:]
        print(f"warm median total: {statistics.median(r['total'] for r in warm):.1f} s "
              f"({min(r['total'] for r in warm):.1f}-{max(r['total'] for r in warm):.1f}), "
              f"cpu {statistics.median(r['cpu'] for r in warm):.1f} s; cold: {runs[0]['total']:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per root; the first is cold (default 3)")
    parser.add_argument("--functions", type=int, default=0,
                        help="also run a generated root of this many functions (bench/many_functions.py)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        roots = {"this repository's root (7 functions)": REPO}
        if args.functions:
            roots[f"generated root ({args.functions} functions)"] = write_root(Path(tmp) / "generated", args.functions)
        for i, (title, root) in enumerate(roots.items()):
            report(title, [one_run(Path(tmp) / f"state-{i}", root) for _ in range(args.runs)])


if __name__ == "__main__":
    main()
