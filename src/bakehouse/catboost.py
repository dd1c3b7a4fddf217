"""``bakehouse.catboost``, as ``mlflow.catboost``: the same module as :mod:`bakehouse.models.flavors.catboost`."""

import sys

from bakehouse.models.flavors import catboost as _flavor
from bakehouse.models.flavors.catboost import *  # the names, for type checkers and editors

sys.modules[__name__] = _flavor
