"""What a fresh process imports on the paths users start with: ``import bakehouse``, the REST client's first
search, and a serving process loading skops. Each check runs in a new interpreter (``sys.modules`` of this
one already holds everything)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

#: libraries that cost tens to hundreds of ms to import, and the scan of installed packages' entry points
HEAVY = (
    "pandas",
    "numpy",
    "pydantic",
    "sqlalchemy",
    "httpx",
    "urllib3",
    "google.protobuf",
    "importlib.metadata",
)


def loaded_after(code: str, also: tuple[str, ...] = ()) -> set[str]:
    """The modules of ``HEAVY`` (and ``also``) present after running ``code``."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    modules = json.loads(out.strip().splitlines()[-1])
    return {name for name in modules if name in HEAVY or name in also}


def test_import_bakehouse_loads_none_of_the_heavy_libraries() -> None:
    assert loaded_after("import bakehouse") == set()


def test_rest_endpoint_rows_do_not_import_pydantic() -> None:
    loaded = loaded_after(
        "from bakehouse.wire.tracking import BY_NAME as t\n"
        "from bakehouse.wire.tracing import BY_NAME as r\n"
        "assert t['SearchRuns'].path and r['SearchTracesV3'].path"
    )
    assert "pydantic" not in loaded


def test_rest_client_first_call_imports_no_pydantic_pandas_or_sqlalchemy(tmp_path: Path) -> None:
    # the URL points at a closed port: the call fails after everything it needs has been imported
    code = (
        "import bakehouse as bh\n"
        "from bakehouse.errors import BakehouseError\n"
        "import os\nos.environ['BAKEHOUSE_HTTP_REQUEST_MAX_RETRIES'] = '0'\n"
        "bh.set_tracking_uri('http://127.0.0.1:9')\n"
        "try:\n    bh.search_runs(experiment_ids=['0'], output_format='list')\n"
        "except Exception as e:\n    print(type(e).__name__)\n"
    )
    loaded = loaded_after(code, also=("bakehouse.wire.transport",))
    assert "bakehouse.wire.transport" in loaded  # the call did reach the transport
    assert loaded.isdisjoint({"pydantic", "pandas", "numpy", "sqlalchemy", "httpx", "google.protobuf"})
    # "http" is a built-in store: no plug-in lookup (which scans every installed package) is needed
    assert "importlib.metadata" not in loaded


def test_choosing_a_database_uri_loads_the_store_code_and_creates_nothing(tmp_path: Path) -> None:
    """The embedded store's first call should cost what later ones do: SQLAlchemy, the schema's tables and
    the client are imported when the URI is chosen, while the database file is only made by the first call."""
    db = tmp_path / "later.db"
    loaded = loaded_after(f"import bakehouse as bh\nbh.set_tracking_uri('sqlite:///{db}')\n")
    assert "sqlalchemy" in loaded
    assert list(tmp_path.iterdir()) == []  # no database, no journal, no directory
    code = (
        f"import sys, bakehouse as bh\nbh.set_tracking_uri('sqlite:///{db}')\n"
        "print('bakehouse.client.client' in sys.modules, 'bakehouse.store.db.schema' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"]
    assert not db.exists()


def test_lazy_message_reference_resolves_to_the_pydantic_class() -> None:
    from bakehouse.wire.endpoints import all_endpoints
    from bakehouse.wire.tracking import BY_NAME
    from bakehouse.wire.tracking_messages import SearchRuns

    assert BY_NAME["SearchRuns"].request_model() is SearchRuns
    for endpoint in all_endpoints():
        model = endpoint.request_model()
        assert model is None or hasattr(model, "model_validate"), endpoint.name


def test_serving_imports_skops_without_the_estimator_scan_and_keeps_its_trust_defaults() -> None:
    code = (
        "import sys, sklearn.utils\n"
        "original = sklearn.utils.all_estimators\n"
        "from bakehouse.serving.server import _import_skops_without_estimator_scan\n"
        "_import_skops_without_estimator_scan()\n"
        "assert 'skops.io' in sys.modules\n"
        "assert sklearn.utils.all_estimators is original, 'all_estimators was not restored'\n"
        "assert 'sklearn.gaussian_process' not in sys.modules, 'the estimator scan ran'\n"
        "from skops.io._trusted_types import SKLEARN_INTERNAL_TYPE_NAMES\n"
        "print(sorted(n for n in SKLEARN_INTERNAL_TYPE_NAMES if n.endswith('_BinMapper')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # skops' own default trust of the histogram-boosting binner survives (an import refused while skops
    # loads would have dropped it silently for the whole process)
    assert out.strip() == "['sklearn.ensemble._hist_gradient_boosting.binning._BinMapper']"
