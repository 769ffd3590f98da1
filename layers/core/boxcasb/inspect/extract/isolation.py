"""Where an extractor runs: in a forked child (untrusted files) or in this process (trusted ones).

In the child a parser that hangs, balloons or crashes on a hostile file takes only the child down:
the parent kills it at the deadline, its address space is capped, and the parent turns whatever
happened into a recorded error. The child streams its text through a pipe as it goes; the parent
hands each chunk to the sink, so no side holds more than a chunk or two.

Why `os.fork` and `os.pipe`, not multiprocessing: Lambda has no /dev/shm, so multiprocessing's
Queue, Pool and Lock (POSIX semaphores) fail there, while a pipe needs nothing. A fork starts in
milliseconds with the parsers already imported (a fresh interpreter costs a tenth of a second and
more per file), needs no pickling, and gives the parent the raw wait status, which tells a memory
cap from a crash. multiprocessing's fork context with a Pipe does the same with more machinery.

The caveat of fork: the child has only the forking thread, and a lock another thread held stays
held in it. CPython re-creates its own (GIL, import lock, logging); the child then touches only the
file, pure-Python parsers, zlib, expat and the pipe. Python 3.12+ warns (DeprecationWarning) when a
process with threads forks; a Lambda runs its handler on one thread.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import resource
import select
import signal
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NoReturn

from boxcasb.inspect.extract.limits import ExtractLimits
from boxcasb.inspect.extract.outcome import Failure
from boxcasb.inspect.extract.output import Pieces, drive

_HEADER = struct.Struct("!cI")  # frame kind, payload length
_TEXT, _END = b"T", b"E"
_READ_BYTES = 1024 * 1024
_EXIT_MEMORY, _EXIT_FAILED = 3, 4
# How often a silent child is checked for having died: its end of the pipe may stay open in
# another fork of this process (a concurrent extraction), so end-of-file cannot be relied on.
_WATCH_SECONDS = 0.25


@dataclass(frozen=True)
class RunResult:
    chars: int
    truncated: bool
    error: str | None


def run_in_process(
    produce: Callable[[], Pieces], sink: Callable[[str], None], limits: ExtractLimits
) -> RunResult:
    """No memory cap, and the deadline is checked between pieces only: for files we trust."""
    chars = 0

    def emit(chunk: str) -> None:
        nonlocal chars
        sink(chunk)
        chars += len(chunk)

    deadline = time.monotonic() + limits.timeout_seconds
    truncated, error = drive(produce, emit, limits.max_output_chars, deadline)
    return RunResult(chars, truncated, error)


def run_isolated(
    produce: Callable[[], Pieces], sink: Callable[[str], None], limits: ExtractLimits
) -> RunResult:
    """The sink runs here, in the parent; an exception it raises kills the child and propagates."""
    deadline = time.monotonic() + limits.timeout_seconds
    read_fd, write_fd = os.pipe()
    # Frozen, the objects the child inherits are out of its collector's reach: it neither spends
    # time on them nor copies their pages by touching them (a large parent heap nearly halved the
    # time of a DOCX here). The parent thaws them at once.
    gc.freeze()
    try:
        pid = os.fork()
    except OSError as exc:
        gc.unfreeze()
        os.close(read_fd)
        os.close(write_fd)
        return RunResult(0, False, f"{Failure.CRASHED}: could not fork ({exc.strerror})")
    if pid == 0:
        _child(produce, read_fd, write_fd, limits, deadline)
    gc.unfreeze()
    os.close(write_fd)
    child = _Child(pid)
    try:
        return _receive(child, read_fd, sink, deadline, limits.timeout_seconds)
    finally:
        os.close(read_fd)
        child.reap()


# --- the child ------------------------------------------------------------------------------------


def _child(
    produce: Callable[[], Pieces], read_fd: int, write_fd: int, limits: ExtractLimits, deadline: float
) -> NoReturn:
    status = _EXIT_FAILED
    try:
        os.close(read_fd)
        # Parsers chatter about hostile files (pypdf warns per broken object); the parent records
        # the outcome, and a copy of the parent's log handlers must not interleave with its own.
        logging.disable(logging.CRITICAL)
        _cap_address_space(limits.max_memory_bytes)
        pipe = _PipeWriter(write_fd)
        truncated, error = drive(produce, pipe.text, limits.max_output_chars, deadline)
        pipe.end(truncated, error)
        status = 0
    except MemoryError:
        status = _EXIT_MEMORY
    finally:
        os._exit(status)  # never return into the parent's code, never run its atexit handlers


def _cap_address_space(extra: int) -> None:
    """Cap the child at what it inherited plus `extra`: the parent's own size (threads' reserved
    stacks, loaded libraries) varies, so an absolute cap could leave the child no room at all."""
    with open("/proc/self/statm") as statm:
        mapped = int(statm.read().split()[0]) * resource.getpagesize()
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + extra if hard == resource.RLIM_INFINITY else min(mapped + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


class _PipeWriter:
    def __init__(self, fd: int) -> None:
        self._fd = fd

    def text(self, chunk: str) -> None:
        self._send(_TEXT, chunk.encode())

    def end(self, truncated: bool, error: str | None) -> None:
        self._send(_END, json.dumps({"truncated": truncated, "error": error}).encode())

    def _send(self, kind: bytes, payload: bytes) -> None:
        frame = memoryview(_HEADER.pack(kind, len(payload)) + payload)
        while frame:
            frame = frame[os.write(self._fd, frame) :]


# --- the parent -----------------------------------------------------------------------------------


class _Child:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.status: int | None = None

    def exited(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
        return self.status is not None

    def wait(self) -> int:
        if self.status is None:
            self.status = os.waitpid(self.pid, 0)[1]
        return self.status

    def reap(self) -> None:
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            self.wait()


class _Frames:
    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[bytes, str]]:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= _HEADER.size:
            kind, length = _HEADER.unpack_from(buffer)
            end = _HEADER.size + length
            if len(buffer) < end:
                return
            payload = buffer[_HEADER.size : end].decode()
            del buffer[:end]
            yield kind, payload


def _read(fd: int) -> bytes | None:
    """What the pipe holds now (b"" at its end), or None when it holds nothing yet."""
    try:
        return os.read(fd, _READ_BYTES)
    except BlockingIOError:
        return None


def _drain(fd: int) -> bytes:
    data = bytearray()
    while block := _read(fd):
        data += block
    return bytes(data)


def _receive(
    child: _Child, fd: int, sink: Callable[[str], None], deadline: float, timeout: float
) -> RunResult:
    os.set_blocking(fd, False)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    frames = _Frames()
    chars = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return RunResult(chars, False, f"{Failure.TIMEOUT}: no result within {timeout:g} s")
        if poller.poll(min(remaining, _WATCH_SECONDS) * 1000):
            data = _read(fd)
            if data is None:
                continue
        elif child.exited():
            data = _drain(fd)
        else:
            continue
        if not data:
            return RunResult(chars, False, _death(child.wait()))
        for kind, payload in frames.feed(data):
            if kind == _END:
                end = json.loads(payload)
                return RunResult(chars, bool(end["truncated"]), end["error"])
            sink(payload)
            chars += len(payload)


def _death(status: int) -> str:
    """The error for a child that ended without its last frame."""
    code = os.waitstatus_to_exitcode(status)
    if code == _EXIT_MEMORY:
        return f"{Failure.MEMORY}: the child ran out of memory"
    if code == -signal.SIGKILL:  # not ours: we kill only after the outcome is settled
        return f"{Failure.CRASHED}: the child was killed (SIGKILL: the system may be out of memory)"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"{Failure.CRASHED}: the child died of {name}"
    return f"{Failure.CRASHED}: the child exited with status {code}"
