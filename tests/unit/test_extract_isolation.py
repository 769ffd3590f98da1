"""The isolated child: streamed chunks, and a parser that hangs, balloons or dies ends as an outcome.

Hostile parsers are injected as producers into `run_isolated`, the seam `extract_text` uses.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from boxcasb.inspect.extract import ExtractLimits, Kind, extract_text
from boxcasb.inspect.extract.isolation import RunResult, run_in_process, run_isolated
from boxcasb.inspect.extract.output import CHUNK_CHARS, Pieces
from tests.support.documents import CARD, SENTENCE, make_docx

FAST = ExtractLimits(timeout_seconds=1)


def collect(
    produce: Callable[[], Pieces], limits: ExtractLimits = FAST
) -> tuple[list[str], RunResult, float]:
    chunks: list[str] = []
    started = time.monotonic()
    result = run_isolated(produce, chunks.append, limits)
    return chunks, result, time.monotonic() - started


def no_children_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def segfault() -> None:
    faulthandler.disable()  # pytest's, inherited: it would print the child's stack on the way down
    os.kill(os.getpid(), signal.SIGSEGV)


def test_text_streams_in_order_in_chunks_and_matches_in_process(tmp_path: Path) -> None:
    text = "".join(f"{n} {SENTENCE} {CARD} ü€😀\n" for n in range(40_000))
    (tmp_path / "a.txt").write_text(text)
    isolated: list[str] = []
    in_process: list[str] = []
    assert extract_text(tmp_path / "a.txt", Kind.TEXT, isolated.append).complete
    assert extract_text(tmp_path / "a.txt", Kind.TEXT, in_process.append, isolated=False).complete
    assert "".join(isolated) == text
    assert isolated == in_process
    assert len(isolated) > 10
    assert all(len(chunk) == CHUNK_CHARS for chunk in isolated[:-1])
    assert no_children_left()


def hangs() -> Pieces:
    yield "x" * CHUNK_CHARS
    yield CARD  # waits in the child for a full chunk, and dies with it
    time.sleep(30)
    yield "never"


def test_a_parser_that_hangs_is_killed_at_the_deadline() -> None:
    chunks, result, seconds = collect(hangs)
    assert result == RunResult(chars=CHUNK_CHARS, truncated=False, error="timeout: no result within 1 s")
    assert chunks == ["x" * CHUNK_CHARS]
    assert 1 <= seconds < 3
    assert no_children_left()


def test_in_process_the_deadline_holds_between_pieces() -> None:
    def slow() -> Pieces:
        for _ in range(30):
            time.sleep(0.1)
            yield "x"

    chunks: list[str] = []
    result = run_in_process(slow, chunks.append, ExtractLimits(timeout_seconds=0.5))
    assert result.error == "timeout: the time limit ran out"
    assert 3 <= len("".join(chunks)) <= 6


def balloons() -> Pieces:
    yield "before\n"
    hoard = [bytearray(16 * 1024 * 1024) for _ in range(64)]  # 1 GiB, against a 128 MiB cap
    yield str(len(hoard))


def test_a_parser_that_allocates_too_much_hits_the_memory_cap() -> None:
    chunks, result, _ = collect(
        balloons, ExtractLimits(timeout_seconds=10, max_memory_bytes=128 * 1024 * 1024)
    )
    assert result == RunResult(chars=7, truncated=False, error="memory: a parser ran out of memory")
    assert chunks == ["before\n"]


def test_running_out_of_memory_outside_the_parser_loop_is_still_memory() -> None:
    def fails_on_close() -> Pieces:
        try:
            yield "ab"
            yield "more"
        finally:
            raise MemoryError  # as when the cap is reached while the extractor releases its file

    chunks, result, _ = collect(fails_on_close, ExtractLimits(timeout_seconds=5, max_output_chars=1))
    assert result == RunResult(chars=1, truncated=False, error="memory: the child ran out of memory")
    assert chunks == ["a"]


@pytest.mark.parametrize(
    ("death", "error"),
    [
        (segfault, "crashed: the child died of SIGSEGV"),
        (
            lambda: os.kill(os.getpid(), signal.SIGKILL),
            "crashed: the child was killed (SIGKILL: the system may be out of memory)",
        ),
        (lambda: os._exit(7), "crashed: the child exited with status 7"),
    ],
    ids=["segfault", "sigkill", "exit"],
)
def test_a_child_that_dies_is_recorded_as_crashed(death: Callable[[], object], error: str) -> None:
    def dies() -> Pieces:
        yield "x" * CHUNK_CHARS
        death()
        yield "never"

    chunks, result, _ = collect(dies, ExtractLimits(timeout_seconds=5))
    assert result == RunResult(chars=CHUNK_CHARS, truncated=False, error=error)
    assert chunks == ["x" * CHUNK_CHARS]


def test_a_dead_child_is_noticed_while_another_process_holds_its_pipe_open() -> None:
    """A fork made while the child runs (here by the child itself) keeps the pipe's write end open,
    so no end-of-file comes: the parent notices the death by the exit status."""

    def forks_then_dies() -> Pieces:
        if os.fork() == 0:
            time.sleep(3)
            os._exit(0)
        yield "x"
        segfault()
        yield "never"

    _, result, seconds = collect(forks_then_dies, ExtractLimits(timeout_seconds=10))
    assert result.error == "crashed: the child died of SIGSEGV"
    assert seconds < 2


def test_the_child_inherits_frozen_objects_and_the_parent_thaws_them() -> None:
    def freeze_count() -> Pieces:
        yield str(gc.get_freeze_count())

    chunks, result, _ = collect(freeze_count)
    assert result.error is None
    assert int(chunks[0]) > 1000
    assert gc.get_freeze_count() == 0


def test_a_sink_that_raises_propagates_and_the_child_is_reaped(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(SENTENCE * 50_000)

    def refuses(chunk: str) -> None:
        raise RuntimeError("scanner broke")

    with pytest.raises(RuntimeError, match="scanner broke"):
        extract_text(tmp_path / "a.txt", Kind.TEXT, refuses)
    assert no_children_left()


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_concurrent_isolated_extractions_from_threads(tmp_path: Path) -> None:
    paths = [make_docx(tmp_path / f"{n}.docx", [f"document {n} {CARD}"] * 200) for n in range(6)]
    texts: dict[int, str] = {}

    def extract(n: int) -> None:
        chunks: list[str] = []
        outcome = extract_text(paths[n], Kind.DOCX, chunks.append, ExtractLimits(timeout_seconds=20))
        assert outcome.complete
        texts[n] = "".join(chunks)

    threads = [threading.Thread(target=extract, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert texts == {n: f"document {n} {CARD}\n" * 200 for n in range(6)}
    assert no_children_left()
