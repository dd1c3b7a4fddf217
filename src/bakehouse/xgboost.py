"""``bakehouse.xgboost``, as ``mlflow.xgboost``: the same module as :mod:`bakehouse.models.flavors.xgboost`."""

import sys

from bakehouse.models.flavors import xgboost as _flavor
from bakehouse.models.flavors.xgboost import *  # the names, for type checkers and editors

sys.modules[__name__] = _flavor
