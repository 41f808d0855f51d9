"""Command line of the local stack: argument parsing only (stack.py, tokens.py and audit.py do the work).

`python -m local_aws` or, installed, `local-aws`. Defaults work from any directory: `--root` is the
current directory (`apply`: the root the running stack runs), `--state-dir` is ./.local; under
`make` both are this repository, and `make local ROOT=path` runs another root.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from local_aws import audit, stack, tokens


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
    prog = "local-aws" if Path(sys.argv[0]).name == "local-aws" else "python -m local_aws"
    parser = argparse.ArgumentParser(prog=prog, description="Run the project's stack on this machine, with no AWS account.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the embedded AWS (with the last run's state), apply the root (when it "
                        "changed since the last apply), serve the API and Cognito until Ctrl-C (make local)")
    up.add_argument("--aws-port", type=parse_port, default=stack.DEFAULT_AWS_PORT, help=f"port of the embedded AWS (default {stack.DEFAULT_AWS_PORT})")
    up.add_argument("--api-port", type=parse_port, default=stack.DEFAULT_API_PORT, help=f"port of the local HTTP API (default {stack.DEFAULT_API_PORT})")
    up.add_argument("--auth-port", type=parse_port, default=stack.DEFAULT_AUTH_PORT, help=f"port of the local Cognito (default {stack.DEFAULT_AUTH_PORT})")
    apply = commands.add_parser("apply", help="apply the root again to the running stack (after editing a handler or the Terraform)")
    up.add_argument("--root", type=Path, default=Path("."), help="the Terraform root to run (default: the current directory)")
    apply.add_argument("--root", type=Path, help="the root to re-apply (default and only choice: the one the running stack runs)")
    for command in (up, apply):
        command.add_argument("--var", type=parse_var, action="append", default=[], metavar="NAME=VALUE",
                             help="a variable the root declares, for terraform apply (repeatable), e.g. --var throttling_rate_limit=1000")
        command.add_argument("--var-file", type=Path, action="append", default=[], metavar="PATH",
                             help="a .tfvars or .tfvars.json file for terraform apply (repeatable; --var values win over it)")
    down = commands.add_parser("down", help="stop a running `make local` from another shell (make local-down)")
    reset = commands.add_parser("reset", help="delete the state a restart restores (the embedded AWS's, Terraform's, "
                                "the signing keys, the demo password): the next start is from scratch (make local-reset)")
    token = commands.add_parser("token", help="get a token from the local Cognito and print the access token")
    token.add_argument("--client", required=True, help="app client name, in whichever user pool holds it (see user_pools in .local/stack.json)")
    token.add_argument("--pool", metavar="ID_OR_NAME", help="the user pool of the client (needed when several pools have a client of that name)")
    token.add_argument("--scope", action="append", default=[], help="scope to ask for (repeatable; default: all the client's)")
    token.add_argument("--username", help="sign in as this user (authorization code + PKCE through the sign-in form)")
    token.add_argument("--password", help="the user's password (make local prints the demo user's)")
    shown = token.add_mutually_exclusive_group()
    shown.add_argument("--id-token", action="store_true", help="print the ID token instead (needs --username)")
    shown.add_argument("--json", action="store_true", help="print the whole token response")
    attack = commands.add_parser("audit", help="send every route of the running stack the requests its authorization must "
                                 "refuse, and report what got through (exit 0: everything refused, no function ran, no findings)")
    attack.add_argument("--public", type=_selector, action="append", default=[], metavar="ROUTE",
                        help="a route meant to be public (repeatable), e.g. --public 'GET /hello'; prefix 'API/' "
                             f"(name or id) when several APIs share it. Also read from the root's {audit.PUBLIC_ROUTES_FILE}")
    attack.add_argument("--public-file", type=Path, metavar="PATH",
                        help=f"the public routes file, one route a line (default: {audit.PUBLIC_ROUTES_FILE} in the root "
                             "the stack applied)")
    attack.add_argument("--custom-value", type=_custom_value, action="append", default=[], metavar="ROUTE=VALUE",
                        help="a value the Lambda authorizer of ROUTE must refuse (403), sent in each of its identity "
                             "sources (repeatable), e.g. --custom-value 'GET /admin=not-a-key'")
    attack.add_argument("--json", action="store_true", help="print the report as JSON (for CI)")
    for command in (up, apply, down, reset, token, attack):
        command.add_argument("--state-dir", type=Path, default=Path(".local"),
                             help="where make local keeps its state, logs and stack.json (default: .local in the current directory)")
    return parser


def _selector(text: str) -> audit.Selector:
    try:
        return audit.parse_selector(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _custom_value(text: str) -> tuple[audit.Selector, str]:
    try:
        return audit.parse_custom_value(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def run_audit(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    paths = stack.Paths(args.state_dir.resolve())
    if args.public_file is not None and not args.public_file.is_file():
        parser.error(f"--public-file {args.public_file}: no such file")
    if not paths.stack_json.exists():
        print(f"error: --state-dir {args.state_dir}: no stack.json; is make local running?", file=sys.stderr)
        return 1
    try:
        description = json.loads(paths.stack_json.read_text())
        if not isinstance(description, dict) or not isinstance(description.get("aws_endpoint_url"), str):
            raise ValueError("no aws_endpoint_url")
    except ValueError as error:
        print(f"error: {paths.stack_json} is not a local stack's description ({error})", file=sys.stderr)
        return 1
    public_file = args.public_file
    if public_file is None:
        root = description.get("root") or description.get("terraform_root")
        public_file = Path(root) / audit.PUBLIC_ROUTES_FILE if isinstance(root, str) else None
    options = audit.Options(public=args.public, public_file=public_file, custom_values=args.custom_value)
    try:
        report = audit.audit(description, paths.base, options)
    except audit.FlagError as error:
        parser.error(str(error))
    except audit.AuditError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report.as_json(), indent=2) if args.json else audit.render(report))
    return 0 if report.ok else 1


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


def running_root(paths: stack.Paths) -> Path | None:
    """The root the stack in this state dir was started on (`apply` re-applies that one)."""
    record = stack.applied_root(paths)
    return Path(record["root"]) if record else None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    paths = stack.Paths(args.state_dir.resolve())
    if args.command == "down":
        return stack.down(paths)
    if args.command == "reset":
        try:
            return stack.reset(paths)
        except stack.StackError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    if args.command == "token":
        return get_token(args, parser)
    if args.command == "audit":
        return run_audit(args, parser)
    root_vars, var_files = dict(args.var), [path.resolve() for path in args.var_file]
    root = args.root.resolve() if args.root is not None else running_root(paths)
    if root is not None:  # (apply with no stack running says so below)
        try:
            stack.check_root(root, root_vars, var_files)
        except stack.StackError as error:
            parser.error(str(error))
    try:
        if args.command == "apply":
            stack.Stack(repo=root or Path.cwd(), paths=paths, root_vars=root_vars, var_files=var_files).reapply()
            print("Applied; the local API serves the change now.")
        else:
            stack.Stack(repo=root, aws_port=args.aws_port, api_port=args.api_port, auth_port=args.auth_port,
                        paths=paths, root_vars=root_vars, var_files=var_files).up()
    except stack.StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
