"""``bakehouse.tracing``: the tracing API in one place (also at the top level: ``bh.trace``, ``bh.start_span``...)."""

from bakehouse.client.tracing import *
from bakehouse.client.tracing import __all__  # noqa: F401
