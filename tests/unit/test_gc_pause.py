"""``collector_paused``: automatic garbage collection is off inside, back as it was after, across threads."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from bakehouse.gc_pause import collector_paused


@pytest.fixture(autouse=True)
def _collector_on_after() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_collector_is_off_inside_and_on_after() -> None:
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: still off, and the inner exit does not switch it back on
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_switches_it_back_on() -> None:
    gc.enable()
    with pytest.raises(ValueError, match="boom"), collector_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_program_stays_off() -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_overlapping_threads_switch_it_back_on_when_the_last_one_leaves() -> None:
    gc.enable()
    first_inside, second_inside, first_may_leave = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with collector_paused():
            first_inside.set()
            first_may_leave.wait(10)
        seen["after first left"] = gc.isenabled()
        second_inside.set()

    def second() -> None:
        first_inside.wait(10)
        with collector_paused():
            first_may_leave.set()
            second_inside.wait(10)  # the first thread has left by now
            seen["second still inside"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen == {"after first left": False, "second still inside": False}
    assert gc.isenabled()
