"""One server's workers share one connection budget (BAKEHOUSE_SQL_MAX_CONNECTIONS), so the numbers add up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bakehouse.store.db import engine as db_engine


@pytest.fixture(autouse=True)
def _restore_budget() -> Iterator[None]:
    yield
    db_engine.share_connection_budget(1)


@pytest.mark.parametrize(("workers", "expected"), [(1, (10, 10)), (2, (5, 5)), (4, (3, 2)), (16, (1, 1))])
def test_the_default_budget_is_split_between_workers(
    monkeypatch: pytest.MonkeyPatch, workers: int, expected: tuple[int, int]
) -> None:
    for name in ("BAKEHOUSE_SQL_MAX_CONNECTIONS", "BAKEHOUSE_SQL_POOL_SIZE", "BAKEHOUSE_SQL_MAX_OVERFLOW"):
        monkeypatch.delenv(name, raising=False)
    db_engine.share_connection_budget(workers)
    pool_size, overflow = db_engine.pool_sizing()
    assert (pool_size, overflow) == expected
    assert workers * (pool_size + overflow) <= max(20, 2 * workers)


def test_the_budget_and_the_per_process_numbers_can_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BAKEHOUSE_SQL_POOL_SIZE", raising=False)
    monkeypatch.delenv("BAKEHOUSE_SQL_MAX_OVERFLOW", raising=False)
    monkeypatch.setenv("BAKEHOUSE_SQL_MAX_CONNECTIONS", "60")
    db_engine.share_connection_budget(3)
    assert db_engine.pool_sizing() == (10, 10)
    monkeypatch.setenv("BAKEHOUSE_SQL_POOL_SIZE", "4")
    monkeypatch.setenv("BAKEHOUSE_SQL_MAX_OVERFLOW", "0")
    assert db_engine.pool_sizing() == (4, 0)


def test_engines_are_made_with_the_share(postgres_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BAKEHOUSE_SQL_MAX_CONNECTIONS", raising=False)
    monkeypatch.delenv("BAKEHOUSE_SQL_POOL_SIZE", raising=False)
    monkeypatch.delenv("BAKEHOUSE_SQL_MAX_OVERFLOW", raising=False)
    db_engine.share_connection_budget(2)
    engine = db_engine.get_engine(postgres_uri)
    assert engine.pool.size() == 5
    assert engine.pool._max_overflow == 5
    assert engine in db_engine.open_engines()
