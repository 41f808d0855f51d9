"""Command line of the local stack: argument parsing only (stack.py and tokens.py do the work)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from local_aws import stack, tokens


def parse_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not between 0 and 65535")
    return port


def parse_var(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_aws", description="Run the project's stack on this machine, with no AWS account.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the embedded AWS, apply the root, serve the API and Cognito until Ctrl-C (make local)")
    up.add_argument("--aws-port", type=parse_port, default=stack.DEFAULT_AWS_PORT, help=f"port of the embedded AWS (default {stack.DEFAULT_AWS_PORT})")
    up.add_argument("--api-port", type=parse_port, default=stack.DEFAULT_API_PORT, help=f"port of the local HTTP API (default {stack.DEFAULT_API_PORT})")
    up.add_argument("--auth-port", type=parse_port, default=stack.DEFAULT_AUTH_PORT, help=f"port of the local Cognito (default {stack.DEFAULT_AUTH_PORT})")
    apply = commands.add_parser("apply", help="apply the root again to the running stack (after editing a handler or the Terraform)")
    for command in (up, apply):
        command.add_argument("--root", type=Path, default=stack.REPO, help="the Terraform root to run (default: this repository)")
        command.add_argument("--var", type=parse_var, action="append", default=[], metavar="NAME=VALUE",
                             help="a root variable for terraform apply (repeatable), e.g. --var throttling_rate_limit=1000")
    down = commands.add_parser("down", help="stop a running `make local` from another shell (make local-down)")
    token = commands.add_parser("token", help="get a token from the local Cognito and print the access token")
    token.add_argument("--client", required=True, help="app client name, in whichever user pool holds it (see user_pools in .local/stack.json)")
    token.add_argument("--pool", metavar="ID_OR_NAME", help="the user pool of the client (needed when several pools have a client of that name)")
    token.add_argument("--scope", action="append", default=[], help="scope to ask for (repeatable; default: all the client's)")
    token.add_argument("--username", help="sign in as this user (authorization code + PKCE through the sign-in form)")
    token.add_argument("--password", help="the user's password (make local prints the demo user's)")
    shown = token.add_mutually_exclusive_group()
    shown.add_argument("--id-token", action="store_true", help="print the ID token instead (needs --username)")
    shown.add_argument("--json", action="store_true", help="print the whole token response")
    for command in (up, apply, down, token):
        command.add_argument("--state-dir", type=Path, default=stack.REPO / ".local", help="where make local keeps its state, logs and stack.json (default .local)")
    return parser


def get_token(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    paths = stack.Paths(args.state_dir.resolve())
    if not paths.stack_json.exists():
        parser.error(f"--state-dir {args.state_dir}: no stack.json; is make local running?")
    description = json.loads(paths.stack_json.read_text())
    try:
        found = stack.find_client(description, args.client, args.pool)
    except stack.ClientLookupError as error:
        parser.error(str(error))
    if (args.username is None) != (args.password is None):
        parser.error("--username and --password go together")
    if args.id_token and args.username is None:
        parser.error("--id-token needs --username and --password: only a signed-in user gets an ID token")
    client = tokens.AppClient(found.id, found.secret, found.callback_urls)
    try:
        if args.username is None:
            answer = tokens.client_credentials(found.auth_url, client, args.scope)
        else:
            answer = tokens.authorization_code(found.auth_url, client, args.username, args.password, args.scope)
    except tokens.TokenError as error:
        print(f"error: --client {args.client}: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # stack.json outlived its stack (a kill -9): nothing answers at auth_url
        print(f"error: the local Cognito at {found.auth_url} does not answer ({error}); "
              "is make local running?", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer, indent=2))
    elif args.id_token:
        if "id_token" not in answer:
            print("error: --id-token: no ID token in the response (ask for the openid scope)", file=sys.stderr)
            return 1
        print(answer["id_token"])
    else:
        print(answer["access_token"])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    paths = stack.Paths(args.state_dir.resolve())
    if args.command == "down":
        return stack.down(paths)
    if args.command == "token":
        return get_token(args, parser)
    try:
        root_vars = stack.ROOT_VARS | dict(args.var)
        if args.command == "apply":
            stack.Stack(repo=args.root.resolve(), paths=paths, root_vars=root_vars).reapply()
            print("Applied; the local API serves the change now.")
        else:
            stack.Stack(repo=args.root.resolve(), aws_port=args.aws_port, api_port=args.api_port,
                        auth_port=args.auth_port, paths=paths, root_vars=root_vars).up()
    except stack.StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
