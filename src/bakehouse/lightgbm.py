"""``bakehouse.lightgbm``, as ``mlflow.lightgbm``: the same module as :mod:`bakehouse.models.flavors.lightgbm`."""

import sys

from bakehouse.models.flavors import lightgbm as _flavor
from bakehouse.models.flavors.lightgbm import *  # the names, for type checkers and editors

sys.modules[__name__] = _flavor
