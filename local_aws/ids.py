"""Identifiers made per request (API Gateway's request and trace ids, Lambda's request ids): unique,
never secret, so drawn from one generator seeded from os.urandom at start. Each os.urandom call is a
getrandom system call, about 7 us on a virtual machine, and a request made three."""
from __future__ import annotations

import random
import uuid

_draw = random.Random()  # seeded from os.urandom


def random_bytes(count: int) -> bytes:
    return _draw.randbytes(count)


def uuid4() -> str:
    """A random (version 4) UUID, as text."""
    return str(uuid.UUID(int=_draw.getrandbits(128), version=4))
