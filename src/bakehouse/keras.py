"""``bakehouse.keras``, as ``mlflow.keras``: the same module as :mod:`bakehouse.models.flavors.keras`."""

import sys

from bakehouse.models.flavors import keras as _flavor
from bakehouse.models.flavors.keras import *  # the names, for type checkers and editors

sys.modules[__name__] = _flavor
