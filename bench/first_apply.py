"""How long a first `terraform apply` of the root takes, with the packages uploaded directly
(`filename`) and deployed from S3 objects (`lambda_packages_in_s3`), side by side.

Each run applies a fresh copy of the root (already initialised: `init` is not timed) to its own
fresh embedded AWS (`python -m local_aws.embedded`), as tests/test_local_apply.py does. The modes
alternate run by run, so a slower or busier moment of the machine falls on both. Reported: the
whole apply, and the span from the first function create starting to the last one completing
(read from Terraform's own progress lines).

    .venv/bin/python bench/first_apply.py [--runs 3]
"""
from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from local_aws import stack, terraform  # noqa: E402
from tests.support.embedded_aws import EmbeddedAws  # noqa: E402

MODES = {"filename": "false", "s3": "true"}
FUNCTION_LINE = re.compile(r'^(?P<address>module\.route\["\w+"\]\.aws_lambda_function\.this): (?P<event>Creating|Creation complete)')


def timed_apply(mode: str, work: Path) -> dict[str, float]:
    with EmbeddedAws.start(work) as aws:
        root = work / "root"
        shutil.copytree(stack.REPO, root, ignore=stack.NOT_COPIED)
        env = terraform.terraform_env(work / "cli", stack.sandbox_env(aws.url))
        terraform.run(["init", "-input=false", "-lockfile=readonly"], root, env, quiet=True)
        command = ["terraform", "apply", "-auto-approve", "-input=false", "-no-color",
                   "-var=cognito_deletion_protection=false", f"-var=lambda_packages_in_s3={MODES[mode]}"]
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        first_create, last_complete, output = None, None, []
        for line in process.stdout:
            output.append(line)
            match = FUNCTION_LINE.match(line)
            if match and match["event"] == "Creating":
                first_create = first_create or time.monotonic() - started
            elif match:
                last_complete = time.monotonic() - started
        if process.wait() != 0:
            raise SystemExit(f"apply ({mode}) failed:\n{''.join(output[-40:])}")
        total = time.monotonic() - started
    return {"apply": total, "functions": last_complete - first_create}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="applies per mode (default 3)")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="first-apply-") as tmp:
        for run in range(args.runs):
            for mode in MODES:
                work = Path(tmp, f"{mode}-{run}")
                work.mkdir()
                results[mode].append(timed_apply(mode, work))
                print(f"run {run + 1} {mode:>8}: apply {results[mode][-1]['apply']:5.1f} s, "
                      f"3 function creates {results[mode][-1]['functions']:5.1f} s", flush=True)
    print(f"\nmedian of {args.runs} first applies of the root (3 functions), embedded AWS:")
    print(f"{'packaging':<10} {'apply (s)':>10} {'function creates (s)':>21}")
    for mode, runs in results.items():
        print(f"{mode:<10} {statistics.median(r['apply'] for r in runs):>10.1f} {statistics.median(r['functions'] for r in runs):>21.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
