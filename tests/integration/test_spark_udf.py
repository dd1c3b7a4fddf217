"""``bakehouse.pyfunc.spark_udf`` on a real local Spark (``local[2]``, Java from Debian): 4,000 rows in four
partitions and many Arrow batches (the session fixture caps a batch at 500 rows) scored through a model saved by Bakehouse and one saved by MLflow give exactly what ``load_model(...).predict``
gives on the same rows; struct input, array and struct results, signature enforcement, and refusals.

One Spark session serves the whole test session (the ``spark`` fixture): starting one takes ~15 s. The
1,000,000-row run of the issue is bench/bench_spark_udf.py (it checks the predictions the same way).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")
from pyspark.sql import functions as F

import bakehouse as bh
from bakehouse.errors import InvalidParameterError

pytestmark = [
    pytest.mark.timeout(300),
    # pyspark 4.x's toPandas passes pandas 3 a deprecated `copy` keyword
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    pytest.mark.filterwarnings("ignore:toPandas attempted Arrow optimization"),
]

#: four partitions of eight Arrow batches each: enough to pin batching and per-executor loading, cheap on CI
ROWS = 4_000


def _features(spark: Any, rows: int) -> Any:
    """Deterministic feature columns computed by Spark itself (nothing shipped from the driver)."""
    return spark.range(rows, numPartitions=4).select(
        ((F.col("id") % 997) / 97.0).alias("x1"),
        F.sin(F.col("id").cast("double")).alias("x2"),
    )


def _train() -> Any:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = pd.DataFrame({"x1": rng.uniform(0, 10, 500), "x2": rng.uniform(-1, 1, 500)})
    y = (x["x1"] / 10 + x["x2"] > 0.7).astype(np.int64)
    return LogisticRegression().fit(x, y), x


def test_importing_spark_connect_never_ends_the_process() -> None:
    """``import pyspark.sql.connect`` calls sys.exit(0) when Spark Connect's dependencies (grpcio...) are
    missing, or pandas' version warning is an error, in a process whose main module has no file (``python -c``,
    a pytest-xdist worker): pyspark takes that for a doctest run. mlflow imports it to tell DataFrames apart
    (infer_signature, from_spark...), which ended 75 tests of a whole-suite run; the spark extra now brings
    those dependencies and the test settings ignore that one warning."""
    code = "import pyspark.sql.connect.dataframe; print('still running')"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert (proc.returncode, proc.stdout.strip()) == (0, "still running"), proc.stderr
    # and in this process, under the suite's warning filters (errors, except that pandas warning)
    import mlflow.types.utils

    assert mlflow.types.utils._is_spark_df(pd.DataFrame({"a": [1]})) is False


@pytest.fixture(scope="module")
def bakehouse_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    model, x = _train()
    path = tmp_path_factory.mktemp("bh") / "model"
    bh.sklearn.save_model(model, path, input_example=x.head(3))
    return str(path)


@pytest.fixture(scope="module")
def mlflow_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    model, x = _train()
    path = tmp_path_factory.mktemp("mlflow") / "model"
    mlflow_sklearn.save_model(model, str(path), input_example=x.head(3))  # cloudpickle, MLflow's default
    return str(path)


def test_rows_match_load_model_predict_bakehouse_model(spark: Any, bakehouse_model: str) -> None:
    df = _features(spark, ROWS)
    udf = bh.pyfunc.spark_udf(spark, bakehouse_model, result_type="long")
    scored = df.withColumn("prediction", udf()).toPandas()  # no arguments: the signature's columns
    assert len(scored) == ROWS
    expected = bh.pyfunc.load_model(bakehouse_model).predict(scored[["x1", "x2"]])
    np.testing.assert_array_equal(scored["prediction"].to_numpy(), np.asarray(expected))
    assert 0 < scored["prediction"].sum() < ROWS  # both classes occur: the comparison means something


def test_rows_match_load_model_predict_mlflow_model(spark: Any, mlflow_model: str) -> None:
    df = _features(spark, ROWS)
    udf = bh.pyfunc.spark_udf(spark, mlflow_model, result_type="double", allow_pickle=True)
    scored = df.withColumn("prediction", udf(F.struct("x1", "x2"))).toPandas()
    assert len(scored) == ROWS
    expected = bh.pyfunc.load_model(mlflow_model, allow_pickle=True).predict(scored[["x1", "x2"]])
    np.testing.assert_array_equal(scored["prediction"].to_numpy(), np.asarray(expected, dtype=np.float64))


@pytest.fixture(scope="module")
def two_output_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    from bakehouse.models.schema_inference import infer_signature

    # defined here, not at module level: cloudpickle then stores the class by value, so Spark's worker
    # processes (which cannot import this test module) can load it
    class TwoOutputs(bh.pyfunc.PythonModel):
        def predict(
            self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
        ) -> Any:
            scale = (params or {}).get("scale", 1.0)
            return pd.DataFrame(
                {
                    "total": (model_input["a"] + model_input["b"]) * scale,
                    "label": model_input["a"].astype(str),
                }
            )

    path = tmp_path_factory.mktemp("custom") / "model"
    example = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    signature = infer_signature(example, TwoOutputs().predict(None, example), params={"scale": 1.0})
    bh.pyfunc.save_model(path, python_model=TwoOutputs(), signature=signature)
    return str(path)


def test_pickled_model_is_refused_without_opt_in(spark: Any, two_output_model: str) -> None:
    udf = bh.pyfunc.spark_udf(spark, two_output_model, result_type="double")
    df = spark.createDataFrame(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    with pytest.raises(Exception, match="Refusing to unpickle"):
        df.select(udf("a", "b")).collect()


def test_struct_array_and_inferred_results_with_params(spark: Any, two_output_model: str) -> None:
    df = spark.createDataFrame(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [10.0, 20.0, 30.0]}))
    inferred = bh.pyfunc.spark_udf(
        spark, two_output_model, allow_pickle=True
    )  # struct<total: double, label: string>
    rows = df.select(inferred("a", "b").alias("out")).collect()
    assert [(row.out.total, row.out.label) for row in rows] == [(11.0, "1.0"), (22.0, "2.0"), (33.0, "3.0")]

    numbers = bh.pyfunc.spark_udf(
        spark, two_output_model, result_type="array<double>", params={"scale": 2.0}, allow_pickle=True
    )
    assert [row[0] for row in df.select(numbers("a", "b")).collect()] == [[22.0], [44.0], [66.0]]

    strings = bh.pyfunc.spark_udf(spark, two_output_model, result_type="string", allow_pickle=True)
    assert [row[0] for row in df.select(strings(F.struct("a", "b"))).collect()] == ["11.0", "22.0", "33.0"]


def test_signature_is_enforced_on_executors(spark: Any, two_output_model: str) -> None:
    udf = bh.pyfunc.spark_udf(spark, two_output_model, result_type="double", allow_pickle=True)
    missing = spark.createDataFrame(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(Exception, match="missing required columns"):
        missing.select(udf("a")).collect()
    text = spark.createDataFrame(pd.DataFrame({"a": ["not a number"], "b": ["x"]}))
    with pytest.raises(Exception, match="(?i)incompatible|cannot|convert|type"):
        text.select(udf("a", "b")).collect()


def test_refusals_on_the_driver(spark: Any, two_output_model: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="env_manager='local' only"):
        bh.pyfunc.spark_udf(spark, two_output_model, env_manager="conda")
    with pytest.raises(InvalidParameterError, match="Invalid spark_udf result type"):
        bh.pyfunc.spark_udf(spark, two_output_model, result_type="map<string, double>")


def test_models_predict_spark_scores_a_parquet_directory(
    spark: Any, bakehouse_model: str, tmp_path: Path
) -> None:
    """The CLI, in this process so it reuses the session's Spark (a second JVM would cost ~15 s)."""
    from click.testing import CliRunner

    from bakehouse.cli.main import main as cli

    source = tmp_path / "in.parquet"
    _features(spark, 2_000).write.parquet(str(source))
    out = tmp_path / "out.parquet"
    args = ["models", "predict", "-m", bakehouse_model, "-i", str(source), "-o", str(out), "--spark"]
    result = CliRunner().invoke(cli, [*args, "--result-type", "long"])
    assert result.exit_code == 0, result.output
    assert "Scored 2000 rows" in result.output
    scored = pd.read_parquet(out).sort_values(["x1", "x2"], ignore_index=True)
    expected = bh.pyfunc.load_model(bakehouse_model).predict(scored[["x1", "x2"]])
    np.testing.assert_array_equal(scored["prediction"].to_numpy(), np.asarray(expected))
    again = CliRunner().invoke(cli, [*args])
    assert again.exit_code != 0 and "already exists" in again.output


def test_from_spark_dataset_matches_mlflow_and_logs_as_input(spark: Any, tmp_path: Path) -> None:
    """The Spark dataset for log_input: same name, digest, source, schema and profile JSON as MLflow's."""
    import mlflow.data

    df = _features(spark, 1_000).withColumn("label", F.col("x1") > 5)
    ours = bh.data.from_spark(df, path="/data/features.parquet", targets="label", name="features")
    theirs = mlflow.data.from_spark(df, path="/data/features.parquet", targets="label", name="features")
    # MLflow's profile asks the JVM for an approximate count and writes "unknown" when that call fails (it
    # does on pyspark 4 here); ours counts exactly. Everything else is the same JSON.
    assert {**ours.to_dict(), "profile": None} == {**theirs.to_dict(), "profile": None}
    assert ours.source.to_dict() == {"path": "/data/features.parquet"}
    assert json_profile(ours) == {"approx_count": 1000}
    with pytest.raises(InvalidParameterError, match="at most one"):
        bh.data.from_spark(df, path="/a", sql="select 1")

    bh.set_tracking_uri(f"sqlite:///{tmp_path / 'runs.db'}")
    with bh.start_run() as run:
        bh.log_input(ours, context="training")
    logged = bh.Client().get_run(run.info.run_id).inputs.dataset_inputs[0]
    assert (logged.name, logged.digest, logged.source_type) == ("features", theirs.digest, "spark")


def json_profile(dataset: Any) -> Any:
    import json

    return json.loads(dataset.to_dict()["profile"])
