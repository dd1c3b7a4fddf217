"""``bakehouse.transformers``, as ``mlflow.transformers``: the same module as :mod:`bakehouse.models.flavors.transformers`."""

import sys

from bakehouse.models.flavors import transformers as _flavor
from bakehouse.models.flavors.transformers import *  # the names, for type checkers and editors

sys.modules[__name__] = _flavor
