"""Shipping Lambda log events to CloudWatch Logs of the embedded AWS, in batches, off the request path.

One `LogShipper` per region gathers the events of every environment for LOG_BATCH_WINDOW_S and
sends one PutLogEvents per stream (CloudWatch's limits per call respected). Invocations never wait
for it; `close()` sends whatever is queued before it returns, so a stopping stack loses no line,
and an environment that crashed has had its lines queued by its reader thread before its
END/REPORT lines are.

The calls are CloudWatch Logs' JSON protocol posted directly (SigV4-signed with the fake keys, as
boto3 would sign them), the bodies made by orjson: through boto3, building and serialising the
request took a third of the data plane's CPU time under load. A refusal (a log group that does not
exist: Terraform creates it on AWS, never this shipper) is logged once per group and cause, never
raised.
"""
from __future__ import annotations

import http.client
import logging
import queue
import threading
import urllib.parse
from typing import Any

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_aws.aws import FAKE_KEYS

log = logging.getLogger(__name__)

LOG_BATCH_WINDOW_S = 0.2     # how long the shipper gathers events before a PutLogEvents
MAX_EVENT_BYTES = 256 * 1024 - 26   # CloudWatch's limit per event, less its per-event overhead
MAX_BATCH_BYTES = 1024 * 1024
MAX_BATCH_EVENTS = 10_000
_TIMEOUT_S = 30


class LogsRefused(Exception):
    """CloudWatch Logs answered with an error (`code`: its __type, e.g. ResourceNotFoundException)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


class LogsApi:
    """The two CloudWatch Logs calls the shipper makes, against one endpoint and region."""

    def __init__(self, endpoint: str, region: str):
        parts = urllib.parse.urlsplit(endpoint)
        self._host, self._port = parts.hostname, parts.port or 80
        self._url = f"{parts.scheme}://{parts.netloc}/"
        self._signer = SigV4Auth(Credentials(FAKE_KEYS["aws_access_key_id"], FAKE_KEYS["aws_secret_access_key"]),
                                 "logs", region)

    def call(self, action: str, params: dict[str, Any]) -> dict:
        body = orjson.dumps(params)
        request = AWSRequest("POST", self._url, data=body, headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"Logs_20140328.{action}"})
        self._signer.add_auth(request)
        connection = http.client.HTTPConnection(self._host, self._port, timeout=_TIMEOUT_S)
        try:
            connection.request("POST", "/", body=body, headers=dict(request.headers.items()))
            response = connection.getresponse()
            answer = response.read()
        finally:
            connection.close()
        if response.status != 200:
            try:
                error = orjson.loads(answer)
                code = str(error.get("__type", "")).rpartition("#")[2] or f"HTTP {response.status}"
                message = str(error.get("message") or error.get("Message") or "")
            except (orjson.JSONDecodeError, AttributeError):
                code, message = f"HTTP {response.status}", answer[:200].decode("utf-8", "replace")
            raise LogsRefused(code, message)
        return orjson.loads(answer) if answer else {}

    def create_log_stream(self, group: str, stream: str) -> None:
        self.call("CreateLogStream", {"logGroupName": group, "logStreamName": stream})

    def put_log_events(self, group: str, stream: str, events: list[dict]) -> None:
        self.call("PutLogEvents", {"logGroupName": group, "logStreamName": stream, "logEvents": events})


class LogShipper:
    """Ships log events to CloudWatch Logs from one background thread, in batches per stream."""

    def __init__(self, api: LogsApi):
        self._api = api
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._created: set[tuple[str, str]] = set()
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
        streams: dict[tuple[str, str], list[tuple[int, str, int]]] = {}
        for group, stream, timestamp, message in batch:
            size = len(message.encode("utf-8")) if not message.isascii() else len(message)
            if size > MAX_EVENT_BYTES:
                message = message.encode("utf-8")[:MAX_EVENT_BYTES].decode("utf-8", "ignore")
                size = len(message.encode("utf-8"))
            streams.setdefault((group, stream), []).append((timestamp, message, size))
        for (group, stream), events in streams.items():
            try:
                self._ensure_stream(group, stream)
                events.sort(key=lambda event: event[0])  # stable: lines keep their order
                for chunk in _chunks(events):
                    self._api.put_log_events(group, stream, chunk)
            except (LogsRefused, OSError, http.client.HTTPException) as error:
                code = error.code if isinstance(error, LogsRefused) else type(error).__name__
                if (group, code) not in self._warned:  # once per cause, not once per batch
                    self._warned.add((group, code))
                    log.warning("Lambda logs for %s dropped: CloudWatch Logs refused them (%s)", group, error)
            except Exception:  # never let the shipper die: the next batch may get through
                log.exception("Lambda logs for %s dropped", group)

    def _ensure_stream(self, group: str, stream: str) -> None:
        if (group, stream) in self._created:
            return
        try:
            self._api.create_log_stream(group, stream)
        except LogsRefused as error:
            if error.code != "ResourceAlreadyExistsException":
                raise
        self._created.add((group, stream))


def _chunks(events: list[tuple[int, str, int]]) -> list[list[dict]]:
    """PutLogEvents bodies within CloudWatch's limits (events per call, bytes per call with 26 per event)."""
    chunks, current, size = [], [], 0
    for timestamp, message, length in events:
        event_size = length + 26
        if current and (len(current) == MAX_BATCH_EVENTS or size + event_size > MAX_BATCH_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append({"timestamp": timestamp, "message": message})
        size += event_size
    if current:
        chunks.append(current)
    return chunks
