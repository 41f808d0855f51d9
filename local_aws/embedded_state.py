"""The embedded AWS's state on disk, so that a restart of `make local` finds what the last run held:
the resources Terraform made, the users created, the items and objects written.

moto keeps everything in its backends (one per service, account and region), plain Python
objects. They are pickled, all in one dump (objects that refer to each other stay one object), to
one file: a JSON header line (format, moto and Python versions), then the pickle. The file is
written to `<file>.partial` and renamed over the old one, so a reader finds the old state or the
new one, never half of one; it holds client secrets and passwords, so it is the user's only (0600).

When it is written (`Persistence`): after writes, at most every SAVE_INTERVAL_S (a killed process
loses at most that much), on request (POST /_local/snapshot: the stack asks after each apply, so
the Terraform state and the snapshot match), and at the end (the server stopped). Writes by the
Lambda runtime's log shipping (CloudWatch Logs) do not start a save of their own, so that a loaded
API does not pickle the whole state every interval: its logs are kept with the next save.

While the backends are pickled, no request runs (the `_Gate`: requests share it, a save holds it
alone), so the file is a state some moment really had; requests wait that long (measured with the
project's root applied: see the README's Speed section). A debounced save waits at most
GATE_WAIT_S for requests in flight, else it tries again at the next interval.

What pickle cannot take as it is gets a reduction here: locks (moto's and the project's own) are
made anew, weak-value dictionaries (moto's Lambda ARNs), defaultdicts whose factory is a lambda
(`lambda: {}`) or whose class needs more than a factory to be made (moto's SSM), cryptography keys (a pool's signing key) and certificates (ACM's) are rebuilt
from their contents.

Reading (`restore`): a file that cannot be read (corrupt, cut short, of another format, moto or
Python version) is a SnapshotError with a message that says so; nothing is installed then, and the
embedded AWS starts empty. Only a fully read state is installed into moto's backends, before the
server accepts its first request. Pickle runs code named in the file when reading it: the file is
written by this process only, into the user's own state dir.
"""
from __future__ import annotations

import functools
import io
import json
import os
import pickle
import sys
import threading
import time
import weakref
from collections import defaultdict
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import moto
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from moto.core.base_backend import BackendDict

from local_aws.embedded_hooks import LOGS_PATH, is_write, signed_service

FORMAT = 1
SAVE_INTERVAL_S = 1.5  # at most one debounced save per interval
# How long a save waits for requests in flight (new ones wait meanwhile): short for the debounced
# saves, so that a long request (an SQS long poll) stalls the others that long at most; a save on
# request (after an apply) waits longer before it fails.
GATE_WAIT_S = 0.5
FORCED_GATE_WAIT_S = 5.0
# Writes that do not start a save of their own (the runtime's log shipping: every request's lines).
QUIET_SERVICES = {"logs"}


class SnapshotError(Exception):
    """The snapshot cannot be read or written; the message says which file and why."""


# -- pickling -------------------------------------------------------------------------------------

_LOCK, _RLOCK = type(threading.Lock()), type(threading.RLock())


def _private_key(pem: bytes):
    return serialization.load_pem_private_key(pem, password=None)


def _public_key(pem: bytes):
    return serialization.load_pem_public_key(pem)


def _certificate(pem: bytes):
    return x509.load_pem_x509_certificate(pem)


def _empty_factory(factory: Callable[[], Any]) -> Callable[[], Any]:
    """A picklable factory that makes what a lambda default factory makes, when that is an empty
    container (moto's `defaultdict(lambda: {})`, `defaultdict(lambda: defaultdict(dict))`); any
    other lambda cannot be saved."""
    if getattr(factory, "__name__", None) != "<lambda>":
        return factory
    made = factory()
    if type(made) in (dict, list, set) and not made:
        return type(made)
    if type(made) is defaultdict and not made:
        return functools.partial(defaultdict, _empty_factory(made.default_factory))
    raise SnapshotError(f"a defaultdict's default factory {factory!r} cannot be saved")


def _defaultdict_of(cls: type, factory: Callable[[], Any] | None) -> defaultdict:
    """An empty instance of a defaultdict subclass, made without its __init__ (the state and items follow)."""
    made = cls.__new__(cls)
    made.default_factory = factory
    return made


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _LOCK):  # held or not, a restored lock starts free
            return threading.Lock, ()
        if isinstance(obj, _RLOCK):
            return threading.RLock, ()
        if isinstance(obj, weakref.WeakValueDictionary):  # items set after the dict is memoized: cycles are fine
            return weakref.WeakValueDictionary, (), None, None, iter(list(obj.items()))
        if type(obj) is defaultdict and getattr(obj.default_factory, "__name__", None) == "<lambda>":
            return defaultdict, (_empty_factory(obj.default_factory),), None, None, iter(list(obj.items()))
        if isinstance(obj, defaultdict) and type(obj) is not defaultdict:  # its __init__ may want more (moto's SSM)
            return (_defaultdict_of, (type(obj), _empty_factory(obj.default_factory)), getattr(obj, "__dict__", None),
                    None, iter(list(obj.items())))
        module = type(obj).__module__
        if isinstance(obj, x509.Certificate):  # ACM's
            return _certificate, (obj.public_bytes(serialization.Encoding.PEM),)
        if module.startswith("cryptography.") and hasattr(obj, "private_bytes"):
            return _private_key, (obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()),)
        if module.startswith("cryptography.") and hasattr(obj, "public_bytes") and hasattr(obj, "verify"):
            return _public_key, (obj.public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo),)
        return NotImplemented


def _backend_dicts() -> dict[str, BackendDict]:
    """moto's backend dictionaries that hold anything, by where they live ("moto.s3.models:s3_backends")."""
    found: dict[str, BackendDict] = {}
    for backends in list(BackendDict._instances):
        module = sys.modules[backends.backend.__module__]
        name = next((n for n, value in vars(module).items() if value is backends), None)
        if name is None:
            raise SnapshotError(f"moto's {backends.service_name} backends are not a module attribute; cannot save them")
        found[f"{module.__name__}:{name}"] = backends
    return found


def _header() -> dict[str, Any]:
    return {"format": FORMAT, "moto": moto.__version__, "python": "%d.%d" % sys.version_info[:2]}


def dumps() -> bytes:
    """The whole state of moto's backends, as the file holds it. Run it while no request changes them."""
    state = {where: {account: dict(regions) for account, regions in backends.items()}
             for where, backends in _backend_dicts().items()}
    out = io.BytesIO()
    out.write(json.dumps(_header()).encode() + b"\n")
    try:
        _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        raise SnapshotError(f"the embedded AWS's state cannot be saved: {error}") from None
    return out.getvalue()


def write(path: Path, data: bytes) -> None:
    """Write the file whole or not at all: a partial file, then a rename over the old one."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)


# -- reading --------------------------------------------------------------------------------------

def read(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """The state the file holds ({where: {account: {region: backend}}}); SnapshotError if it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SnapshotError(f"{path} cannot be read: {error.strerror or error}") from None
    first, newline, payload = data.partition(b"\n")
    try:
        header = json.loads(first) if newline else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or "format" not in header:
        raise SnapshotError(f"{path} is not a snapshot of the embedded AWS (no header)")
    expected = _header()
    for key in ("format", "moto", "python"):
        if header.get(key) != expected[key]:
            raise SnapshotError(f"{path} was written with {key} {header.get(key)}, this is {key} {expected[key]}")
    try:
        state = pickle.loads(payload)
    except Exception as error:  # a corrupt pickle raises almost anything (UnpicklingError, EOFError, KeyError, ...)
        raise SnapshotError(f"{path} is corrupt or cut short ({type(error).__name__}: {error})") from None
    if not isinstance(state, dict):
        raise SnapshotError(f"{path} is corrupt (it holds a {type(state).__name__}, not moto's backends)")
    return state


def _target(where: str) -> BackendDict:
    module_name, _, name = where.partition(":")
    try:
        backends = getattr(import_module(module_name), name)
    except (ImportError, AttributeError):
        raise SnapshotError(f"the snapshot holds {where}, which this moto does not have") from None
    if not isinstance(backends, BackendDict):
        raise SnapshotError(f"the snapshot holds {where}, which is not a moto backend dictionary")
    return backends


def install(state: dict[str, dict[str, dict[str, Any]]]) -> int:
    """Put a read state into moto's (empty) backends; returns how many backends it held. Every
    target is found before anything is installed: a state is installed whole or not at all."""
    targets = [(_target(where), accounts) for where, accounts in state.items()]
    count = 0
    for backends, accounts in targets:
        for account, regions in accounts.items():
            account_backends = backends[account]  # moto makes (and tracks) the account's dictionary
            for region, backend in regions.items():
                dict.__setitem__(account_backends, region, backend)  # as moto's own __getitem__ stores it
                count += 1
    return count


def restore(path: Path) -> int:
    """Install the state the file holds; how many backends it held. SnapshotError, with nothing
    installed, when it cannot be read."""
    return install(read(path))


# -- saving while serving -------------------------------------------------------------------------

class _Gate:
    """Requests share it; a save holds it alone, so that it pickles a state no request is changing."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._requests = 0
        self._closed = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._changed:
            while self._closed:
                self._changed.wait()
            self._requests += 1
        try:
            yield
        finally:
            with self._changed:
                self._requests -= 1
                self._changed.notify_all()

    @contextmanager
    def alone(self, timeout: float) -> Iterator[bool]:
        """Yields True once no request runs (new ones wait), False if requests in flight did not end in time."""
        with self._changed:
            while self._closed:
                self._changed.wait()
            self._closed = True
            drained = self._changed.wait_for(lambda: self._requests == 0, timeout)
            if not drained:
                self._closed = False
                self._changed.notify_all()
        try:
            yield drained
        finally:
            if drained:
                with self._changed:
                    self._closed = False
                    self._changed.notify_all()


WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


class Persistence:
    """WSGI middleware of the embedded AWS that keeps its state in `path`: counts writes, saves
    (debounced, on request, at close), and serves GET/POST /_local/snapshot.

      GET  /_local/snapshot   {"file", "restored", "problem", "writes", "saved_writes", "last_save_s", "error"}
      POST /_local/snapshot   save now: 200 {"bytes", "seconds"} | 500 {"error"}
    """

    def __init__(self, app: WsgiApp, path: Path, restored: bool, problem: str | None):
        self.app = app
        self.path = Path(path)
        self.restored, self.problem = restored, problem
        self._gate = _Gate()
        self._saving = threading.Lock()
        self._count = threading.Lock()
        self.writes = 0  # writes that start a save
        self.quiet_writes = 0  # writes kept with the next save (log shipping)
        self.saved = (0, 0)
        self.last_save_s: float | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._save_when_changed, name="snapshots", daemon=True)
        self._thread.start()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/_local/snapshot":
            return self._snapshot_endpoint(environ, start_response)
        with self._gate.shared():  # moto does the whole of a request inside this call
            body = self.app(environ, start_response)
        if is_write(environ):
            with self._count:
                if signed_service(environ) in QUIET_SERVICES or environ.get("PATH_INFO", "").startswith(LOGS_PATH):
                    self.quiet_writes += 1
                else:
                    self.writes += 1
        return body

    def _snapshot_endpoint(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            started = time.monotonic()
            try:
                size = self.save(force=True)
                status, payload = "200 OK", {"bytes": size, "seconds": round(time.monotonic() - started, 3)}
            except (SnapshotError, OSError) as error:
                self.error = str(error)
                status, payload = "500 Internal Server Error", {"error": str(error)}
        else:
            status, payload = "200 OK", {
                "file": str(self.path), "restored": self.restored, "problem": self.problem, "writes": self.writes,
                "saved_writes": self.saved[0], "last_save_s": self.last_save_s, "error": self.error}
        body = json.dumps(payload).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _dirty(self) -> bool:
        return self.saved != (self.writes, self.quiet_writes)

    def save(self, force: bool = False) -> int | None:
        """Save if anything changed since the last save (or `force`); the bytes written, None if nothing
        was saved (unchanged, or requests in flight did not end within GATE_WAIT_S). SnapshotError
        when a forced save cannot be made."""
        with self._saving:
            if not force and not self._dirty():
                return None
            started = time.monotonic()
            with self._gate.alone(FORCED_GATE_WAIT_S if force else GATE_WAIT_S) as alone:
                if not alone:
                    if force:
                        raise SnapshotError(f"requests in flight did not end within {FORCED_GATE_WAIT_S} s; not saved")
                    return None
                counted = (self.writes, self.quiet_writes)
                data = dumps()
            self.last_save_s = round(time.monotonic() - started, 3)  # how long requests waited
            write(self.path, data)
            self.saved, self.error = counted, None
            return len(data)

    def _save_when_changed(self) -> None:
        while not self._stop.wait(SAVE_INTERVAL_S):
            if self.writes == self.saved[0]:  # quiet writes wait for the next real one, or the close
                continue
            said = self.error
            try:
                self.save()
            except (SnapshotError, OSError) as error:
                self.error = str(error)
                if self.error != said:  # once, not every interval
                    print(f"embedded AWS: {error}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Stop the debounced saves and save what changed since the last one (the server has stopped)."""
        self._stop.set()
        self._thread.join()
        try:
            self.save(force=self._dirty())  # waiting for requests in flight as long as a save on request does
        except (SnapshotError, OSError) as error:
            print(f"embedded AWS: {error}", file=sys.stderr, flush=True)
