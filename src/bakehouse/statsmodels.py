"""``bakehouse.statsmodels``, as ``mlflow.statsmodels``: the same module as :mod:`bakehouse.models.flavors.statsmodels`."""

import sys

from bakehouse.models.flavors import statsmodels as _flavor
from bakehouse.models.flavors.statsmodels import *  # the names, for type checkers and editors

sys.modules[__name__] = _flavor
