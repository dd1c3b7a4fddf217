"""``bakehouse.sklearn``, as ``mlflow.sklearn``: the same module as :mod:`bakehouse.models.flavors.sklearn`."""

import sys

from bakehouse.models.flavors import sklearn as _flavor
from bakehouse.models.flavors.sklearn import *  # the names, for type checkers and editors

sys.modules[__name__] = _flavor
