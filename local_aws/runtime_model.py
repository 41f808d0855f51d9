"""What the local runtime takes and gives: a function's configuration, an invocation's outcome,
and the errors that are the runtime's own (not the function's)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from local_aws.aws import REGION


@dataclass(frozen=True)
class Function:
    name: str
    arn: str
    handler: str
    runtime: str
    timeout_s: int
    memory_mb: int
    environment: dict[str, str]
    code_sha256: str
    log_group: str
    layers: tuple[str, ...] = ()   # layer version ARNs, in the function's order
    region: str = REGION

    def __hash__(self) -> int:  # usable as a key despite the dict (which nobody may change)
        return hash((self.arn, self.code_sha256, self.handler, self.runtime, self.timeout_s, self.memory_mb,
                     frozenset(self.environment.items()), self.log_group, self.layers))


@dataclass
class Invocation:
    request_id: str
    payload: Any | None     # the handler's JSON-decoded return value when it returned
    error: dict | None      # {"errorType", "errorMessage", "stackTrace": [...]} when it raised, crashed or timed out
    duration_ms: float


class InvocationTimeout(Exception):
    """The caller's wait_s elapsed before the function finished (or before an environment was free)."""


class LambdaRuntimeError(Exception):
    """The local runtime could not run the function: not the function's own error."""


class FunctionNotFound(LambdaRuntimeError, LookupError):
    """No such function in the embedded AWS."""


class UnsupportedFunction(LambdaRuntimeError):
    """The function is configured in a way this runtime does not emulate (fail closed)."""
