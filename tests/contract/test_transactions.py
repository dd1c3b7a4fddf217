"""The write transaction every SQL store uses: what the database refuses becomes a Bakehouse error."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bakehouse.errors import InvalidParameterError
from bakehouse.store.db import engine as db_engine
from bakehouse.store.db.schema import experiments
from bakehouse.store.db.transactions import write_transaction


@pytest.fixture(params=["postgres", "mysql"])
def strict_database(request: pytest.FixtureRequest) -> str:
    """The databases that enforce column widths (SQLite stores any length)."""
    uri = str(request.getfixturevalue(f"{request.param}_uri"))
    db_engine.ensure_schema(db_engine.get_engine(uri))
    return uri


def test_a_value_longer_than_its_column_is_a_400_and_the_transaction_is_rolled_back(
    strict_database: str,
) -> None:
    engine = db_engine.get_engine(strict_database)
    with (
        pytest.raises(InvalidParameterError, match="A value does not fit the database") as info,
        write_transaction(engine) as conn,
    ):
        conn.execute(experiments.insert().values(name="kept?", lifecycle_stage="active"))
        conn.execute(experiments.insert().values(name="n" * 501, lifecycle_stage="active"))
    assert "INSERT" not in info.value.message  # the driver's reason, never the statement
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(experiments)).scalar() == 1  # only Default
