"""``bakehouse.onnx``, as ``mlflow.onnx``: the same module as :mod:`bakehouse.models.flavors.onnx`."""

import sys

from bakehouse.models.flavors import onnx as _flavor
from bakehouse.models.flavors.onnx import *  # the names, for type checkers and editors

sys.modules[__name__] = _flavor
