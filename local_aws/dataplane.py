"""The local data plane: what AWS runs behind the control plane, for every API and user pool in
the embedded AWS, on loopback.

One process serves two ports: the HTTP APIs (gateway.py, which runs handlers through
runtime.py and checks tokens with authorizer.py) and the Cognito domains and issuers
(cognito.py); and the REST APIs (rest_gateway.py) on a listener of their own (the internet) and
one per execute-api VPC endpoint (free ports; `ready` lists them as `rest_apis`). It reads everything from the embedded AWS and reloads when the embedded AWS
reports a write (a re-apply), so a changed route, scope or handler is served without a restart.
The generation it serves is kept in <work dir>/generation, so a caller that re-applied can wait
until its change is served (the pytest plugin's apply() does).

    python -m local_aws.dataplane --aws-endpoint URL --api-port N --auth-port N --work-dir DIR

prints `ready {"api_url": ..., "auth_url": ...}` once both ports serve. A configuration it
cannot emulate stops it at start with an error naming the route and setting (exit 2).
"""
from __future__ import annotations

import argparse
import gc
import json
import signal
import sys
import threading
from pathlib import Path

from local_aws import aws
from local_aws.authorizer import JwksCache
from local_aws.cognito import LocalCognito
from local_aws.gateway import ConfigError, Gateway
from local_aws.rest_gateway import INTERNET, RestGateway
from local_aws.runtime import Runtime
from local_aws.serving import HttpServer, PortInUseError, WsgiServer

RELOAD_POLL_S = 0.5


class DataPlane:
    def __init__(self, aws_endpoint: str, work_dir: Path, api_port: int, auth_port: int, host: str = "127.0.0.1",
                 rest_port: int = 0):
        self.aws_endpoint = aws_endpoint
        self.work_dir = work_dir
        self.generation = self._generation()  # read first: whatever changes after it is reloaded later
        self.runtime = Runtime(aws_endpoint, work_dir / "runtime")
        # loads the pools; the runtime runs their pre token generation triggers
        self.cognito = LocalCognito(aws_endpoint, work_dir / "cognito-keys", runtime=self.runtime)
        self.jwks = JwksCache(fetch=self.cognito.jwks_for_issuer)
        self.gateway = Gateway(aws_endpoint, self.runtime, self.jwks)
        self.gateway.reload()  # ConfigError here: refuse to start rather than serve a half-understood API
        self.rest = RestGateway(aws_endpoint, self.runtime)
        self.rest.reload()  # the same for REST APIs
        self._stop = threading.Event()
        self.host = host
        self.api = _serve(HttpServer, self.gateway, host, api_port, "--api-port")
        try:
            self.auth = _serve(WsgiServer, self.cognito, host, auth_port, "--auth-port")
            # REST APIs: the ordinary listener is the internet; each VPC endpoint has its own (spec H1).
            self.rest_internet = _serve(HttpServer, self.rest.listener(INTERNET), host, rest_port, "--rest-port")
        except OSError:
            self.api.stop()
            if hasattr(self, "auth"):
                self.auth.stop()
            raise
        self.rest_endpoints: dict[str, HttpServer] = {}
        self.sync_rest_listeners()
        self.record_generation()
        settle_heap()
        threading.Thread(target=self.watch, name="reload", daemon=True).start()

    def urls(self) -> dict:
        return {"api_url": self.api.url, "auth_url": self.auth.url, "rest_url": self.rest_internet.url,
                "rest_apis": self.rest.describe(self.rest_internet.url, {v: s.url for v, s in self.rest_endpoints.items()})}

    def sync_rest_listeners(self) -> None:
        """A listener for each execute-api VPC endpoint of the embedded AWS, none for a deleted one."""
        for vpce_id in set(self.rest_endpoints) - set(self.rest.endpoints):
            self.rest_endpoints.pop(vpce_id).stop()
        for vpce_id in set(self.rest.endpoints) - set(self.rest_endpoints):
            self.rest_endpoints[vpce_id] = HttpServer(self.rest.listener(vpce_id), self.host, 0)

    def reload_rest(self) -> None:
        try:
            self.rest.reload()
        except ConfigError as error:  # as the gateway's: that API answers 500 until a good re-apply
            print(f"reload refused: {error}", file=sys.stderr, flush=True)
        self.sync_rest_listeners()

    def _generation(self) -> int:
        # Raises when the embedded AWS cannot tell (see aws.generation): the watch loop keeps serving
        # what it has and asks again next poll.
        return aws.generation(self.aws_endpoint)

    def record_generation(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        partial = self.work_dir / "generation.partial"
        partial.write_text(str(self.generation))
        partial.replace(self.work_dir / "generation")

    def watch(self) -> None:
        """Reload Cognito and the gateway after the embedded AWS changed (a re-apply)."""
        while not self._stop.wait(RELOAD_POLL_S):
            try:
                generation = self._generation()
                if generation == self.generation:
                    continue
                self.cognito.reload()
                self.jwks.clear()  # a new pool's keys must not wait out the cache's refetch interval
                try:
                    self.gateway.reload()
                finally:
                    self.reload_rest()
                self.generation = generation
                self.record_generation()
                settle_heap()
            except ConfigError as error:  # the gateway fails closed for that API until a good re-apply
                self.generation = generation
                self.record_generation()
                print(f"reload refused: {error}", file=sys.stderr, flush=True)
            except Exception as error:  # the embedded AWS busy or gone: keep serving, try again next poll
                print(f"reload failed, will retry: {error!r}", file=sys.stderr, flush=True)

    def stop(self) -> None:
        self._stop.set()
        self.api.stop()
        self.auth.stop()
        self.rest_internet.stop()
        for listener in self.rest_endpoints.values():
            listener.stop()
        self.runtime.close()


def settle_heap() -> None:
    """Move what is loaded (the SDK's models, the configuration) out of the garbage collector's
    sight: a full collection over it held every request for 50-120 ms under load (p99). The
    previous configuration is collected first, so a reload leaks nothing."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _serve(server: type[HttpServer], app, host: str, port: int, flag: str) -> HttpServer:
    try:
        return server(app, host, port)
    except PortInUseError as error:
        raise PortInUseError(error.errno, f"{flag} {port}: {error.strerror}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_aws.dataplane", description=__doc__.splitlines()[0])
    parser.add_argument("--aws-endpoint", required=True, help="URL of the embedded AWS")
    parser.add_argument("--api-port", type=int, required=True, help="port of the HTTP APIs (0: a free one)")
    parser.add_argument("--auth-port", type=int, required=True, help="port of the Cognito domains and issuers (0: a free one)")
    parser.add_argument("--rest-port", type=int, default=0, help="port of the REST APIs' internet listener (0: a free one)")
    parser.add_argument("--work-dir", type=Path, required=True, help="where code packages and signing keys are kept")
    args = parser.parse_args(argv)

    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        plane = DataPlane(args.aws_endpoint, args.work_dir, args.api_port, args.auth_port, rest_port=args.rest_port)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except PortInUseError as error:
        print(f"error: {error.strerror}; choose another port", file=sys.stderr)
        return 2
    print(f"ready {json.dumps(plane.urls())}", flush=True)
    stopping.wait()
    plane.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
