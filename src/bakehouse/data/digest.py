"""Dataset digests, computed exactly as MLflow's ``mlflow/data/digest_utils.py`` does.

The digest is what the UI and ``search_logged_models(datasets=...)`` match datasets on, so a frame logged by
Bakehouse and by MLflow must get the same 8 hex characters: every step below (which columns are hashed,
the row cap, the order of the md5 updates) mirrors MLflow 3.17 on purpose, including its quirks.
"""

from __future__ import annotations

import hashlib
from typing import Any

from bakehouse.errors import InvalidParameterError

#: rows (pandas) or flattened elements (numpy) hashed; the full length and shape are hashed as well.
MAX_ROWS = 10000


def compute_pandas_digest(df: Any) -> str:
    """Hash the first MAX_ROWS rows of the string and numeric columns, the row count and the column names."""
    import numpy as np  # only when a dataset is built
    import pandas as pd  # only when a dataset is built

    trimmed = df.head(MAX_ROWS)
    # MLflow tests the *whole* frame for string-only columns (not just the trimmed rows): kept as is.
    types = df.map(type) if hasattr(df, "map") else df.applymap(type)  # DataFrame.map is pandas >= 2.1
    string_columns = trimmed.columns[(types == str).all(axis=0)]
    numeric_columns = trimmed.select_dtypes(include=[np.number]).columns
    trimmed = trimmed[string_columns.union(numeric_columns)]
    return normalized_md5_digest(
        [pd.util.hash_pandas_object(trimmed).values, np.int64(len(df))]
        + [str(c).encode() for c in df.columns]
    )


def compute_numpy_digest(features: Any, targets: Any = None) -> str:
    """Hash the first MAX_ROWS flattened elements and the full shape of each array (dict keys sorted)."""
    import numpy as np  # only when a dataset is built
    import pandas as pd  # only when a dataset is built

    elements: list[Any] = []

    def add_array(array: Any) -> None:
        trimmed = array.flatten()[0:MAX_ROWS]
        try:
            elements.append(pd.util.hash_array(trimmed))
        except TypeError:  # e.g. object arrays of unhashable values: MLflow hashes the size instead
            elements.append(np.int64(trimmed.size))
        elements.extend(np.int64(d) for d in array.shape)

    for item in (features, targets):
        if item is None:
            continue
        if isinstance(item, dict):
            for key in sorted(item):
                add_array(item[key])
        else:
            add_array(item)
    return normalized_md5_digest(elements)


def normalized_md5_digest(elements: list[Any]) -> str:
    """The first 8 hex characters of the md5 over the elements' buffers, in order."""
    if not elements:
        raise InvalidParameterError("No hashable elements were provided for md5 digest creation")
    md5 = hashlib.md5(usedforsecurity=False)
    for element in elements:
        md5.update(element)
    return md5.hexdigest()[:8]
