"""Batch scoring on Spark: ``spark_udf`` turns a pyfunc model into a pandas UDF, as MLflow's does.

The model is downloaded once on the driver. In local mode the executors read that directory; on a cluster
it is shipped with ``SparkContext.addFile``. Each Python worker process loads the model the first time a
batch reaches it and keeps it (Spark reuses its Python workers), instead of loading it again for every task.

Input: the UDF's arguments are columns (named after the signature's inputs, in order, or ``0, 1, ...``
without one), or one ``struct(...)`` whose field names become the DataFrame's columns; called with no
arguments it takes the signature's input columns by name. The signature is enforced by ``PyFuncModel.predict``.
Output: MLflow's rules for ``result_type`` (the leftmost compatible column for a primitive type, every
compatible column for an array, named columns for a struct).
"""

from __future__ import annotations

import logging
import os
import threading
import typing
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from bakehouse.errors import InvalidParameterError
from bakehouse.extras import require
from bakehouse.models.mlmodel import Model
from bakehouse.models.signature import ColSpec, TensorSpec

if TYPE_CHECKING:
    import pandas as pd


logger = logging.getLogger(__name__)

#: models loaded in this process (a Spark Python worker), by local directory and model_config
_LOADED: dict[tuple[str, str], Any] = {}
_LOADED_LOCK = threading.Lock()

#: MLflow's schema type names -> Spark SQL type names, for a result type inferred from the output schema
_SPARK_TYPE_NAMES = {
    "boolean": "boolean",
    "integer": "int",
    "long": "long",
    "float": "float",
    "double": "double",
    "string": "string",
    "binary": "binary",
    "datetime": "timestamp",
}


def _pyspark() -> Any:
    return require("pyspark", "spark", "Scoring on Spark", package="pyspark")


#: ``load_model_from_dir(model_dir, allow_pickle=..., model_config=...)``, handed in by bakehouse.pyfunc
#: (this module must not import its own package: that would be an import cycle)
ModelLoader = Callable[..., Any]


def _loaded_model(
    loader: ModelLoader, model_dir: str, model_config: dict[str, Any] | None, allow_pickle: bool | None
) -> Any:
    """The model of ``model_dir``, loaded once per process."""
    import json

    key = (model_dir, json.dumps([model_config or {}, allow_pickle], sort_keys=True, default=str))
    with _LOADED_LOCK:
        model = _LOADED.get(key)
        if model is None:
            model = loader(model_dir, allow_pickle=allow_pickle, model_config=model_config)
            _LOADED[key] = model
        return model


def infer_result_type(metadata: Model) -> Any:
    """The Spark type of the model's predictions, from its output schema (``double`` without one)."""
    from pyspark.sql.types import ArrayType, DoubleType, StructField, StructType, _parse_datatype_string

    signature = metadata.signature
    outputs = signature.outputs if signature is not None else None
    if outputs is None or not outputs.inputs:
        return DoubleType()

    def spark_type(spec: ColSpec | TensorSpec) -> Any:
        if isinstance(spec, TensorSpec):  # a tensor: one 1-D array per row
            element = {"float32": "float", "float64": "double", "int32": "int", "int64": "long"}.get(
                spec.dtype, "double"
            )
            return ArrayType(_parse_datatype_string(element))
        mapped = _SPARK_TYPE_NAMES.get(spec.type_name)
        if mapped is None:
            raise InvalidParameterError(
                f"Cannot infer a Spark result type from the output column type {spec.type_name!r}: pass "
                "result_type="
            )
        return _parse_datatype_string(mapped)

    specs = list(outputs.inputs)
    if len(specs) == 1:
        return spark_type(specs[0])
    if all(getattr(spec, "name", None) for spec in specs):
        return StructType([StructField(str(spec.name), spark_type(spec)) for spec in specs])
    return ArrayType(spark_type(specs[0]))


def _check_result_type(result_type: Any) -> None:
    from pyspark.sql.types import (
        ArrayType,
        BinaryType,
        BooleanType,
        DoubleType,
        FloatType,
        IntegerType,
        LongType,
        StringType,
        StructType,
        TimestampType,
    )

    primitives = (
        BooleanType,
        IntegerType,
        LongType,
        FloatType,
        DoubleType,
        StringType,
        BinaryType,
        TimestampType,
    )
    if isinstance(result_type, primitives):
        return
    if isinstance(result_type, ArrayType):
        _check_result_type(result_type.elementType)
        return
    if isinstance(result_type, StructType):
        for field in result_type.fields:
            _check_result_type(field.dataType)
        return
    raise InvalidParameterError(
        f"Invalid spark_udf result type {result_type}: use a primitive (int, long, float, double, string, "
        "boolean), an array of those, or a struct of those"
    )


def input_frame(args: tuple[Any, ...], input_names: list[str] | None, required: int) -> pd.DataFrame:
    """The pandas DataFrame the model gets for one batch of UDF arguments."""
    import pandas as pd

    if len(args) == 1 and isinstance(args[0], pd.DataFrame):  # struct(...) input: its field names
        return args[0]
    if input_names is None:
        names = [str(index) for index in range(len(args))]
    else:
        names = input_names
        if len(args) > len(names):
            args = args[: len(names)]
        if len(args) < required:
            raise InvalidParameterError(
                f"Model input is missing required columns: it expects {len(names)} input columns {names} (in this "
                f"order, since they are passed unnamed) but received {len(args)}"
            )
    columns = {
        names[index]: arg if isinstance(arg, pd.Series) else arg.apply(lambda row: row.to_dict(), axis=1)
        for index, arg in enumerate(args)
    }
    return pd.DataFrame(columns, columns=names[: len(args)])


def shape_result(result: Any, result_type: Any) -> pd.Series | pd.DataFrame:
    """Predictions in the form Spark expects for ``result_type`` (MLflow's selection rules)."""
    import numpy as np
    import pandas as pd
    from pyspark.sql.types import (
        ArrayType,
        BooleanType,
        DoubleType,
        FloatType,
        IntegerType,
        LongType,
        StringType,
        StructType,
    )

    if isinstance(result, dict):
        result = {key: list(value) for key, value in result.items()}
    if isinstance(result_type, StructType):
        frame = pd.DataFrame(result)
        return pd.DataFrame(
            {field.name: _struct_column(frame[field.name], field.dataType) for field in result_type.fields}
        )
    if isinstance(result_type, ArrayType) and isinstance(result_type.elementType, ArrayType):
        return pd.Series([np.asarray(row).tolist() for row in result])
    if isinstance(result, pd.Series):
        frame = result.to_frame()
    elif isinstance(result, pd.DataFrame):
        frame = result
    elif np.isscalar(result):
        frame = pd.DataFrame([result])
    else:
        frame = pd.DataFrame(result)
    element = result_type.elementType if isinstance(result_type, ArrayType) else result_type
    if type(element) is IntegerType:
        frame = frame.select_dtypes([np.byte, np.ubyte, np.short, np.ushort, np.int32]).astype(np.int32)
    elif type(element) is LongType:
        frame = frame.select_dtypes([np.byte, np.ubyte, np.short, np.ushort, int]).astype(np.int64)
    elif type(element) is FloatType:
        frame = frame.select_dtypes(include=(np.number,)).astype(np.float32)
    elif type(element) is DoubleType:
        frame = frame.select_dtypes(include=(np.number,)).astype(np.float64)
    elif type(element) is BooleanType:
        frame = frame.select_dtypes([bool, np.bool_]).astype(bool)
    if len(frame.columns) == 0:
        raise InvalidParameterError(
            f"The model produced no values compatible with the requested type {element}; ask for string or "
            "array<string>"
        )
    if type(element) is StringType:
        frame = frame.map(str)
    if isinstance(result_type, ArrayType):
        return pd.Series(frame.to_numpy().tolist())
    return frame[frame.columns[0]]


def _struct_column(column: pd.Series, data_type: Any) -> pd.Series:
    from pyspark.sql.types import ArrayType, StringType

    if isinstance(data_type, StringType):
        return column.map(str)
    if isinstance(data_type, ArrayType):
        return column.map(lambda value: list(value) if value is not None else None)
    return column


def _model_dir_for_executors(spark: Any, local_dir: str) -> Callable[[], str]:
    """How an executor finds the model: the driver's directory in local mode, else a file Spark ships."""
    master = str(spark.sparkContext.master)
    if master.startswith("local"):
        return lambda: local_dir
    spark.sparkContext.addFile(local_dir, recursive=True)
    name = os.path.basename(local_dir.rstrip("/"))

    def shipped() -> str:
        from pyspark import SparkFiles

        return SparkFiles.get(name)

    return shipped


def spark_udf(
    loader: ModelLoader,
    spark: Any,
    model_uri: str,
    result_type: Any = None,
    env_manager: str | None = None,
    params: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
    model_config: dict[str, Any] | None = None,
    *,
    allow_pickle: bool | None = None,
) -> Callable[..., Any]:
    """A Spark pandas UDF applying the model's ``predict`` to batches of rows (MLflow's signature).

    Only ``env_manager="local"`` (the default) is supported: the executors use the current Python
    environment, which must have the model's libraries. ``allow_pickle`` is ``load_model``'s: a pickled
    model (MLflow's default for scikit-learn) loads only with it, or with ``BAKEHOUSE_ALLOW_PICKLE=true``.
    """
    _pyspark()
    import pandas as pd
    from pyspark.sql.functions import pandas_udf  # type: ignore[attr-defined]  # pyspark's stubs omit it
    from pyspark.sql.types import StructType, _parse_datatype_string

    from bakehouse.models.enforcement import enforce_params
    from bakehouse.models.uri import download_model

    if env_manager not in (None, "local"):
        raise InvalidParameterError(
            f"spark_udf supports env_manager='local' only (got {env_manager!r}): install the model's "
            "requirements into the Python environment Spark's executors use"
        )
    local_dir = os.path.abspath(download_model(model_uri, None))
    metadata = Model.load(local_dir)
    if result_type is None:
        result_type = infer_result_type(metadata)
    elif isinstance(result_type, str):
        result_type = _parse_datatype_string(result_type)
    _check_result_type(result_type)
    signature = metadata.signature
    params = enforce_params(params, signature.params if signature is not None else None)
    input_schema = signature.inputs if signature is not None else None
    input_names: list[str] | None = None
    required = 0
    if input_schema is not None and input_schema.has_input_names():
        input_names = [str(name) for name in input_schema.input_names()]
        required = len(input_schema.required_input_names())
    model_dir = _model_dir_for_executors(spark, local_dir)
    environment = dict(extra_env or {})
    returns_frame = isinstance(result_type, StructType)

    def predict_batches(batches: Iterator[Any]) -> Iterator[Any]:
        os.environ.update(environment)
        model = _loaded_model(loader, model_dir(), model_config, allow_pickle)
        for batch in batches:
            args = batch if isinstance(batch, tuple) else (batch,)
            if len(args[0]) == 0:
                continue
            frame = input_frame(args, input_names, required)
            yield shape_result(model.predict(frame, params), result_type)

    def udf(batches: Iterator[Any]) -> Iterator[Any]:
        return predict_batches(batches)

    # pandas_udf picks the iterator-of-batches flavor from the type hints: give it real typing objects
    # (this module's annotations are strings, and pandas is imported here only)
    batch_type = typing.Tuple[typing.Union[pd.Series, pd.DataFrame], ...]  # noqa: UP006, UP007
    udf.__annotations__ = {
        "batches": typing.Iterator[batch_type],
        "return": typing.Iterator[pd.DataFrame] if returns_frame else typing.Iterator[pd.Series],
    }
    spark_function = pandas_udf(udf, result_type)

    def call(*columns: Any) -> Any:
        if not columns:
            if input_names is None:
                raise InvalidParameterError(
                    "The model has no named input signature: call the UDF with the input columns"
                )
            from pyspark.sql.functions import col

            columns = tuple(col(name) for name in input_names)
        return spark_function(*columns)

    call.metadata = metadata  # type: ignore[attr-defined]  # MLflow's UDF carries .metadata too
    call.__name__ = "bakehouse_pyfunc_udf"
    return call


def score_parquet(
    loader: ModelLoader,
    model_uri: str,
    input_path: str,
    output_path: str,
    *,
    master: str = "local[*]",
    result_type: Any = None,
    prediction_column: str = "prediction",
    allow_pickle: bool | None = None,
) -> int:
    """Score a Parquet dataset (a file or a directory of parts) on Spark, writing it with one more column
    to ``output_path`` (a Parquet directory, which must not exist yet). Returns the rows written.

    Starts its own Spark session (``master``; loopback only, no web UI) unless one is already active."""
    _pyspark()
    import sys

    from pyspark.sql import SparkSession

    if os.path.exists(output_path):
        raise InvalidParameterError(f"Output path {output_path!r} already exists: choose a new directory")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the workers need this environment's packages
    active = SparkSession.getActiveSession()
    spark = active or (
        SparkSession.builder.master(master)
        .appName("bakehouse-models-predict")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    try:
        frame = spark.read.parquet(input_path)
        if prediction_column in frame.columns:
            raise InvalidParameterError(
                f"The input already has a column {prediction_column!r}: choose another prediction column"
            )
        udf = spark_udf(loader, spark, model_uri, result_type=result_type, allow_pickle=allow_pickle)
        metadata: Model = udf.metadata  # type: ignore[attr-defined]  # set by spark_udf above
        signature = metadata.signature
        named = signature is not None and signature.inputs is not None and signature.inputs.has_input_names()
        from pyspark.sql.functions import col, struct

        prediction = udf() if named else udf(struct(*[col(name) for name in frame.columns]))
        frame.withColumn(prediction_column, prediction).write.parquet(output_path)
        return int(spark.read.parquet(output_path).count())
    finally:
        if active is None:
            spark.stop()
