"""A service for tests of local_aws/held.py: prints `ready` and what it was given, exits 3."""
from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    print("ready " + json.dumps({"argv": argv, "sys_argv": sys.argv, "env": dict(os.environ)}), flush=True)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
