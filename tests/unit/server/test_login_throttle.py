"""The failed-login back-off in isolation: per address and user name, with a higher ceiling per address."""

from __future__ import annotations

import time

import pytest

from bakehouse.server.auth import throttle as throttle_module
from bakehouse.server.auth.throttle import LoginThrottle


def test_one_user_is_slowed_while_colleagues_at_the_address_are_not() -> None:
    throttle = LoginThrottle(free_attempts=3, address_free_attempts=10)
    for _ in range(3):
        throttle.failed("10.0.0.1", "ann")
    wait, message = throttle.retry_after("10.0.0.1", "ann")
    assert wait > 0 and "for this user" in message
    assert throttle.retry_after("10.0.0.1", "bob")[0] == 0  # a colleague behind the same address
    assert throttle.retry_after("10.0.0.2", "ann")[0] == 0  # the same user elsewhere
    throttle.succeeded("10.0.0.1", "ann")
    assert throttle.retry_after("10.0.0.1", "ann")[0] == 0


def test_many_user_names_from_one_address_reach_the_address_ceiling() -> None:
    throttle = LoginThrottle(free_attempts=3, address_free_attempts=10)
    for i in range(9):
        throttle.failed("10.0.0.1", f"user-{i}")
    assert throttle.retry_after("10.0.0.1", "anyone")[0] == 0
    throttle.failed("10.0.0.1", "user-9")
    wait, message = throttle.retry_after("10.0.0.1", "anyone")
    assert wait > 0 and "from this address" in message
    throttle.succeeded("10.0.0.1", "anyone")  # a success elsewhere does not lift the address's wait
    assert throttle.retry_after("10.0.0.1", "anyone")[0] > 0


def test_the_wait_doubles_up_to_the_ceiling_and_is_forgotten() -> None:
    throttle = LoginThrottle(free_attempts=1, max_delay=4.0, forget_after=0.2, address_free_attempts=1000)
    waits = []
    for _ in range(5):
        throttle.failed("a", "u")
        waits.append(round(throttle.retry_after("a", "u")[0]))
    assert waits == [1, 2, 4, 4, 4]
    time.sleep(0.3)
    assert throttle.retry_after("a", "u")[0] == 0


def test_a_full_table_drops_the_oldest_keys_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flooding the table with new keys pushes out the stalest records, not the one being guessed now."""
    monkeypatch.setattr(throttle_module, "MAX_TRACKED_CLIENTS", 3)
    throttle = LoginThrottle(free_attempts=2, address_free_attempts=1000)
    throttle.failed("a", "stale")
    throttle.failed("a", "target")
    throttle.failed("a", "target")
    throttle.failed("b", "flood-1")
    throttle.failed("b", "flood-2")  # the table is full: "stale" goes
    assert len(throttle.per_user._keys) == 3
    assert throttle.per_user._keys.keys() == {
        LoginThrottle._key(*k) for k in (("a", "target"), ("b", "flood-1"), ("b", "flood-2"))
    }
    assert throttle.retry_after("a", "target")[0] > 0
