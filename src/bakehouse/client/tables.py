"""Tables logged as run artifacts (``log_table`` / ``load_table``), in MLflow's on-disk form.

A table is a pandas DataFrame written as JSON in pandas' ``split`` orient (or Parquet), and listed in the
run tag ``mlflow.loggedArtifacts`` so that ``load_table`` can find every run holding it with one search.
Logging to a file that already exists appends rows, as MLflow does.
"""

from __future__ import annotations

import json
import logging
import posixpath
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bakehouse.entities.page import collect_pages
from bakehouse.errors import InvalidParameterError, NotFoundError

if TYPE_CHECKING:
    from bakehouse.client.client import Client

LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"
logger = logging.getLogger(__name__)


def _check_table_file(artifact_file: str) -> None:
    if not isinstance(artifact_file, str) or not artifact_file.endswith((".json", ".parquet")):
        raise InvalidParameterError(
            f"Invalid artifact file path {artifact_file!r}: a table is stored as a '.json' or '.parquet' file"
        )


def _read(path: str) -> Any:
    import pandas as pd

    return pd.read_json(path, orient="split") if path.endswith(".json") else pd.read_parquet(path)


def _existing(client: Client, run_id: str, artifact_file: str) -> Any | None:
    """The table already stored at ``artifact_file`` in the run, or None."""
    directory = posixpath.dirname(posixpath.normpath(artifact_file)) or None
    if artifact_file not in {f.path for f in client.list_artifacts(run_id, directory) if not f.is_dir}:
        return None
    with tempfile.TemporaryDirectory(prefix="bakehouse-table-") as tmp:
        return _read(client.download_artifacts(run_id, artifact_file, tmp))


def log_table(client: Client, run_id: str, data: Any, artifact_file: str) -> None:
    import pandas as pd

    _check_table_file(artifact_file)
    if isinstance(data, dict):
        try:
            data = pd.DataFrame(data)
        except ValueError:  # a dict of scalars is one row
            data = pd.DataFrame([data])
    if not isinstance(data, pd.DataFrame):
        raise InvalidParameterError("data must be a pandas.DataFrame or a dictionary")
    previous = _existing(client, run_id, artifact_file)
    if previous is not None:
        data = pd.concat([previous, data], ignore_index=True)
    with client._artifact_file(run_id, artifact_file) as local:
        try:
            if artifact_file.endswith(".json"):
                data.to_json(local, orient="split", index=False, date_format="iso")
            else:
                data.to_parquet(local, index=False)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidParameterError(f"The table cannot be stored as {artifact_file!r}: {exc}") from None
    listed = json.loads(client.get_run(run_id).data.tags.get(LOGGED_ARTIFACTS_TAG, "[]"))
    entry = {"path": artifact_file, "type": "table"}
    if entry not in listed:
        client.set_tag(run_id, LOGGED_ARTIFACTS_TAG, json.dumps([*listed, entry]))


def load_table(
    client: Client,
    experiment_id: str,
    artifact_file: str,
    run_ids: Sequence[str] | None = None,
    extra_columns: Sequence[str] | None = None,
) -> Any:
    """The table ``artifact_file`` of every matching run, concatenated; ``extra_columns`` names run
    columns of ``search_runs``' frame (``run_id``, ``tags.x``, ...) copied onto each row."""
    import pandas as pd

    from bakehouse.client.frames import runs_to_dataframe

    _check_table_file(artifact_file)
    # The tag holds JSON such as [{"path": "t.json", "type": "table"}]; LIKE's _ and % are wildcards there
    escaped = artifact_file.replace("'", "''")
    filter_string = f'tags.`{LOGGED_ARTIFACTS_TAG}` LIKE \'%"path"%:%"{escaped}",%"type"%:%"table"%\''
    if run_ids:
        filter_string += " AND attributes.run_id IN (" + ", ".join(f"'{r}'" for r in run_ids) + ")"
    runs = collect_pages(
        lambda token, n: client.search_runs(
            [str(experiment_id)], filter_string, max_results=n, page_token=token
        ),
        None,
        1000,
    )
    if run_ids and len(runs) != len(set(run_ids)):
        logger.warning("Not all runs have the table %s; those without it are skipped.", artifact_file)
    if not runs:
        raise NotFoundError(f"No runs found with the table artifact {artifact_file!r}.")
    frame = runs_to_dataframe(runs)
    tables = []
    for (_, row), run in zip(frame.iterrows(), runs):
        table = _existing(client, run.info.run_id, artifact_file)
        if table is None:
            raise NotFoundError(f"Artifact {artifact_file} not found for run {run.info.run_id}.")
        for column in extra_columns or ():
            table[f"{column}_" if column in table else column] = row[column]
        tables.append(table)
    return pd.concat(tables, ignore_index=True)
