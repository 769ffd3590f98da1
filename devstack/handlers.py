"""Loads each function's handler in-process and calls it the way the Lambda runtime would.

Every `app.py` is imported under its own module name (`fn_<LogicalId>`), so several
coexist; the layer directory goes first on sys.path, like /opt/python.
"""

from __future__ import annotations

import contextvars
import importlib.util
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from devstack.local_aws import ACCOUNT_ID, PARTITION, REGION
from devstack.template_model import Function, TemplateError

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]
_OWN_PACKAGE = __name__.split(".")[0]
# Which function is running, for fault injection. A context variable, not a thread-local: the
# handlers' fan_out runs requests on pool threads in a copy of the caller's context.
_running: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "devstack_invocation", default=None
)


def current_invocation() -> tuple[str, str] | None:
    """(logical id, request id) of the invocation whose handler this thread is in, if any."""
    return _running.get()


@dataclass
class LambdaContext:
    """What the Python runtime passes as `context` (the attributes Powertools reads)."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline_epoch: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_epoch - time.time()) * 1000))


def function_arn(name: str) -> str:
    return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


@dataclass
class LocalFunction:
    """One function, loaded and ready to call."""

    spec: Function
    name: str  # the physical function name (what !Ref gives)
    handler: Handler
    # Lambda runs one invocation per execution environment at a time; handler modules keep
    # per-invocation state (Powertools resolvers, logger keys), so calls to one function queue up.
    # Re-entrant so that a handler invoking its own function synchronously does not deadlock.
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def arn(self) -> str:
        return function_arn(self.name)

    def new_context(self, request_id: str | None = None) -> LambdaContext:
        return LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.spec.memory_mb,
            invoked_function_arn=self.arn,
            aws_request_id=request_id or str(uuid.uuid4()),
            deadline_epoch=time.time() + self.spec.timeout_seconds,
            log_group_name=f"/aws/lambda/{self.name}",
            log_stream_name=f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
        )

    def invoke(self, event: Any, request_id: str | None = None) -> Any:
        """Call the handler with a JSON copy of the event and return a JSON copy of its result.

        The round trips make the local call as strict as Lambda: an event or result that
        does not survive JSON fails here too, and no object is shared with the caller.
        """
        payload = json.loads(json.dumps(event))
        with self.lock:
            context = self.new_context(request_id)
            started = time.monotonic()
            token = _running.set((self.spec.logical_id, context.aws_request_id))
            try:
                result = self.handler(payload, context)
            finally:
                _running.reset(token)
            elapsed = time.monotonic() - started
        if elapsed > self.spec.timeout_seconds:
            # A thread cannot be killed; say loudly that Lambda would have timed out.
            log.warning(
                "devstack: %s ran %.1fs, beyond its Timeout of %ss: Lambda would have stopped it",
                self.name,
                elapsed,
                self.spec.timeout_seconds,
            )
        return json.loads(json.dumps(result))


class ModuleSandbox:
    """The layer on sys.path while the stack runs; the layer and handler modules it imported forgotten after.

    Modules imported before the stack started (say, by a test module) are left alone and
    shared with the handlers, like a warm container: whoever imported them early owns
    their caches. Modules first imported by the stack are dropped on close, so the next
    stack in the same process gets a cold start instead of the last stack's clients.
    """

    def __init__(self, layer_dirs: Sequence[Path], code_dirs: Iterable[Path]) -> None:
        self._layer_dirs = [str(p) for p in layer_dirs]
        # Plain string prefixes: resolving the paths of ~1000 loaded modules costs a second per start.
        self._roots = tuple(os.path.join(str(p), "") for p in (*layer_dirs, *code_dirs))
        self._added_paths: list[str] = []
        self._preexisting: set[str] = set()

    def open(self) -> None:
        self._preexisting = set(sys.modules)
        for directory in reversed(self._layer_dirs):
            if directory not in sys.path:
                sys.path.insert(0, directory)
                self._added_paths.append(directory)

    def close(self) -> None:
        for name, module in list(sys.modules.items()):
            if name not in self._preexisting and self._owns(module):
                del sys.modules[name]
        for directory in self._added_paths:
            if directory in sys.path:
                sys.path.remove(directory)
        self._added_paths = []

    def _owns(self, module: ModuleType) -> bool:
        if module.__name__.split(".")[0] == _OWN_PACKAGE:
            return False  # a CodeUri of "./" must not unload the runner itself
        locations = [getattr(module, "__file__", None), *(getattr(module, "__path__", None) or [])]
        return any(isinstance(location, str) and location.startswith(self._roots) for location in locations)


def check_no_shared_module_names(functions: Iterable[Function]) -> None:
    """Two function directories with a same-named helper module would silently share one copy."""
    owner: dict[str, str] = {}
    for function in functions:
        for name in _top_level_modules(function.code_dir) - {function.handler_module.split(".")[0]}:
            if owner.setdefault(name, function.logical_id) != function.logical_id:
                raise TemplateError(
                    f"{owner[name]} and {function.logical_id} both ship a top-level module {name!r}; "
                    "in one process they would collide"
                )


def load_handler(function: Function) -> Handler:
    module_name = f"fn_{function.logical_id}"
    spec = importlib.util.spec_from_file_location(module_name, function.handler_file)
    if spec is None or spec.loader is None:
        raise TemplateError(f"{function.logical_id}: cannot load {function.handler_file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # Lambda puts the function's own directory (/var/task) on sys.path for its helpers.
    code_dir = str(function.code_dir)
    sys.path.insert(0, code_dir)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    finally:
        sys.path.remove(code_dir)
    handler = getattr(module, function.handler_name, None)
    if not callable(handler):
        raise TemplateError(
            f"{function.logical_id}: {function.handler_file} has no {function.handler_name}()"
        )
    return handler  # type: ignore[no-any-return]


def _top_level_modules(directory: Path) -> set[str]:
    names = {p.stem for p in directory.glob("*.py")}
    names |= {p.name for p in directory.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    return names
