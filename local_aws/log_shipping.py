"""Shipping Lambda log events to CloudWatch Logs of the embedded AWS, in batches, off the request path.

One `LogShipper` per region gathers the events of every environment for LOG_BATCH_WINDOW_S and
delivers them in one call, whatever the number of streams (environments). Invocations never wait
for it; `close()` sends whatever is queued before it returns, so a stopping stack loses no line,
and an environment that crashed has had its lines queued by its reader thread before its
END/REPORT lines are.

Delivery is the embedded AWS's private POST /_local/logs/<region> (embedded_hooks.py), on one
kept-alive connection, the body made by orjson: Lambda's platform delivers its logs without
PutLogEvents, and a signed PutLogEvents per stream (what this shipper made before: eight
environments, forty calls a second under load) cost the data plane and the embedded AWS about
35 us per request between them, a twentieth of the whole. The events land in moto's CloudWatch
Logs as PutLogEvents would put them, in order, each event cut to CloudWatch's size limit. A group
that does not exist (Terraform creates it on AWS, never this shipper) is refused: logged once
per group and cause, never raised.
"""
from __future__ import annotations

import http.client
import logging
import queue
import threading
import urllib.parse

import orjson

log = logging.getLogger(__name__)

LOG_BATCH_WINDOW_S = 0.2     # how long the shipper gathers events before delivering them
MAX_EVENT_BYTES = 256 * 1024 - 26   # CloudWatch's limit per event, less its per-event overhead
_TIMEOUT_S = 30
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class LogsRefused(Exception):
    """The embedded AWS did not take a delivery (`code`: why, e.g. ResourceNotFoundException)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


class LogsApi:
    """Deliveries to the embedded AWS's CloudWatch Logs of one region, on one kept-alive connection
    (used from the shipper's thread only)."""

    def __init__(self, endpoint: str, region: str):
        parts = urllib.parse.urlsplit(endpoint)
        self._host, self._port = parts.hostname, parts.port or 80
        self._path = f"/_local/logs/{urllib.parse.quote(region)}"
        self._connection: http.client.HTTPConnection | None = None

    def deliver(self, streams: list[tuple[str, str, list[tuple[int, str]]]]) -> list[dict]:
        """Put each (group, stream, [(timestamp ms, message), ...]); the groups refused, as
        [{"group", "code", "message"}]. Raises LogsRefused, OSError or HTTPException when the
        embedded AWS does not answer as it should."""
        body = orjson.dumps({"streams": [{"group": group, "stream": stream, "events": events}
                                         for group, stream, events in streams]})
        reused = self._connection is not None
        try:
            status, answer = self._post(body)
        except _STALE:
            if not reused:
                raise
            status, answer = self._post(body)  # the kept connection had been closed by the server: once more
        if status != 200:
            raise LogsRefused(f"HTTP {status}", answer[:200].decode("utf-8", "replace"))
        return orjson.loads(answer)["refused"]

    def _post(self, body: bytes) -> tuple[int, bytes]:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self._host, self._port, timeout=_TIMEOUT_S)
        try:
            self._connection.request("POST", self._path, body=body, headers={"Content-Type": "application/json"})
            response = self._connection.getresponse()
            answer = response.read()
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return response.status, answer

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class LogShipper:
    """Ships log events to CloudWatch Logs from one background thread, in batches per stream."""

    def __init__(self, api: LogsApi):
        self._api = api
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._warned: set[tuple[str, str]] = set()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lambda-log-shipper", daemon=True)
        self._thread.start()

    def put(self, group: str, stream: str, timestamp_ms: int, message: str) -> None:
        self._queue.put((group, stream, timestamp_ms, message))

    def close(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout_s)
        self._api.close()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            stop = first is None
            if not stop:
                self._stopping.wait(LOG_BATCH_WINDOW_S)  # gather a batch (cut short by close())
            batch = [] if stop else [first]
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                else:
                    batch.append(item)
            if batch:
                self._ship(batch)
            if stop:
                return

    def _ship(self, batch: list[tuple[str, str, int, str]]) -> None:
        streams: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for group, stream, timestamp, message in batch:
            if len(message) * 4 > MAX_EVENT_BYTES and len(message.encode("utf-8")) > MAX_EVENT_BYTES:
                message = message.encode("utf-8")[:MAX_EVENT_BYTES].decode("utf-8", "ignore")
            streams.setdefault((group, stream), []).append((timestamp, message))
        for events in streams.values():
            events.sort(key=lambda event: event[0])  # stable: lines keep their order
        try:
            refused = self._api.deliver([(group, stream, events) for (group, stream), events in streams.items()])
        except (LogsRefused, OSError, http.client.HTTPException, ValueError, KeyError) as error:
            code = error.code if isinstance(error, LogsRefused) else type(error).__name__
            refused = [{"group": group, "code": code, "message": str(error)} for group, _ in streams]
        except Exception:  # never let the shipper die: the next batch may get through
            log.exception("Lambda logs dropped")
            refused = []
        for refusal in refused:
            group, code = refusal["group"], refusal["code"]
            if (group, code) not in self._warned:  # once per cause, not once per batch
                self._warned.add((group, code))
                log.warning("Lambda logs for %s dropped: CloudWatch Logs refused them (%s: %s)", group, code,
                            refusal["message"])
