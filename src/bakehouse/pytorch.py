"""``bakehouse.pytorch``, as ``mlflow.pytorch``: the same module as :mod:`bakehouse.models.flavors.pytorch`."""

import sys

from bakehouse.models.flavors import pytorch as _flavor
from bakehouse.models.flavors.pytorch import *  # the names, for type checkers and editors

sys.modules[__name__] = _flavor
