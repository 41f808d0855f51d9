"""A service's process started ahead of time: its imports now, its work when told how.

    python -m local_aws.held local_aws.dataplane

imports the module (for the data plane, 0.4 s of CPU: moto's API Gateway models, botocore,
cryptography), then reads one JSON line from stdin, {"argv": [...], "env": {...}}, makes `env`
its whole environment and runs `module.main(argv)`, exactly as `python -m module argv...` with
that environment would from then on. `make local` starts the data plane this way while Terraform
applies, so that only its loading of what the apply made remains after it. End of input before
the line (the stack stopped before it was needed): exit 0, having done nothing.
"""
from __future__ import annotations

import importlib
import json
import os
import sys


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m local_aws.held MODULE  (then one JSON line on stdin: {\"argv\": [...], \"env\": {...}})",
              file=sys.stderr)
        return 2
    module = importlib.import_module(sys.argv[1])
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    told = json.loads(line)
    os.environ.clear()
    os.environ.update(told["env"])
    sys.argv = [sys.argv[1], *told["argv"]]
    return module.main(told["argv"])


if __name__ == "__main__":
    sys.exit(main())
