"""Waiting without blocking the data plane's event loop, from code written to block.

The HTTP API and REST listeners serve every connection from one event-loop thread (http11.py):
one thread has no interpreter lock to hand over between requests, which is what a thread per
connection paid for most (about 6 context switches per request under load). Their request handlers
(the gateways) stay ordinary blocking code: each request runs in a greenlet of its own, and the two
places a request waits, the answer of an execution environment and a call the data plane makes to
the embedded AWS, go through this module. On the loop, `wait_readable` hands the loop back until the
file descriptor is readable and `off_loop` runs a call on a worker thread meanwhile; anywhere else
(tests, Cognito's threads, the runtime's own callers) they simply block, as before. SQLAlchemy's
asyncio layer bridges sync code to a loop the same way (greenlet_spawn / await_only).

Rule for code on the request path: never wait on a lock another greenlet of the loop could be
holding across a wait (none is: the runtime's locks are held only around short, non-waiting work).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import math
import select
from typing import Callable, TypeVar

import greenlet

T = TypeVar("T")

WORKERS = 32  # threads per loop for off_loop (cold starts, Cognito's WSGI app, AWS calls)


class LoopRequest(greenlet.greenlet):
    """A greenlet of a loop thread that requests run in: `hub` is the loop's own greenlet, which a
    wait switches back to; the loop switches into this one again when the wait is over."""

    def __init__(self, runner: "Runner"):
        super().__init__(runner._work, parent=runner.hub)
        self.loop, self.hub, self.workers = runner.loop, runner.hub, runner.workers


class Runner:
    """Runs calls on a loop thread, each in a greenlet of its own, reusing the greenlets: a new one
    costs an mmap and an munmap of its Python frame stack, and an munmap in a process with several
    threads interrupts the other CPUs (measured: 4 % of the loop thread's time under load)."""

    KEEP = 64  # idle greenlets kept for the next requests

    def __init__(self, loop: asyncio.AbstractEventLoop, hub: greenlet.greenlet,
                 workers: concurrent.futures.Executor):
        self.loop, self.hub, self.workers = loop, hub, workers
        self._idle: list[LoopRequest] = []

    def run(self, call: Callable[..., None], *args) -> None:
        """`call(*args)` in a greenlet, from the loop thread; returns when it ends or first waits."""
        (self._idle.pop() if self._idle else LoopRequest(self)).switch(call, args)

    def _work(self, call: Callable[..., None], args: tuple) -> None:
        current = greenlet.getcurrent()
        while True:
            call(*args)
            call = args = None  # nothing of a request is kept while idle
            if len(self._idle) >= self.KEEP:
                return
            self._idle.append(current)
            call, args = self.hub.switch()  # idle until run() hands over the next call

    def close(self) -> None:
        """End the idle greenlets (from the loop thread)."""
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.throw(greenlet.GreenletExit)


def on_loop() -> bool:
    """True in a request greenlet of an event loop (where blocking would stall every request)."""
    return isinstance(greenlet.getcurrent(), LoopRequest)


def wait_readable(fd: int, timeout_s: float, poller: select.poll | None = None) -> bool:
    """Wait until `fd` is readable (True) or `timeout_s` passed (False). `poller`: one with `fd`
    registered, kept by the caller, for waits off the loop."""
    current = greenlet.getcurrent()
    if not isinstance(current, LoopRequest):
        if poller is None:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
        return bool(poller.poll(max(0, math.ceil(timeout_s * 1000))))
    loop = current.loop

    def wake(ready: bool) -> None:
        loop.remove_reader(fd)
        timer.cancel()
        current.switch(ready)

    loop.add_reader(fd, wake, True)
    timer = loop.call_later(timeout_s, wake, False)
    return current.hub.switch()


def off_loop(call: Callable[..., T], *args, **kwargs) -> T:
    """`call(*args, **kwargs)`; on a loop, run on a worker thread while the loop serves others."""
    current = greenlet.getcurrent()
    if not isinstance(current, LoopRequest):
        return call(*args, **kwargs)
    future = current.loop.run_in_executor(current.workers, lambda: call(*args, **kwargs))
    future.add_done_callback(lambda _: current.switch())
    current.hub.switch()
    return future.result()
