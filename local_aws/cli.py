"""Command line of the local stack: argument parsing only (see stack.py for what each does)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from local_aws import stack


def parse_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not between 1 and 65535")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_aws", description="Run the project's stack on this machine, with no AWS account.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the embedded AWS, apply the root to it, serve until Ctrl-C (make local)")
    up.add_argument("--aws-port", type=parse_port, default=stack.DEFAULT_AWS_PORT, help=f"port of the embedded AWS (default {stack.DEFAULT_AWS_PORT})")
    down = commands.add_parser("down", help="stop a running `make local` from another shell (make local-down)")
    for command in (up, down):
        command.add_argument("--state-dir", type=Path, default=stack.REPO / ".local", help="where make local keeps its state, logs and stack.json (default .local)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    paths = stack.Paths(args.state_dir.resolve())
    if args.command == "down":
        return stack.down(paths)
    try:
        stack.Stack(aws_port=args.aws_port, paths=paths).up()
    except stack.StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
