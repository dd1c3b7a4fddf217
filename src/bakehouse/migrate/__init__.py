"""Copying a whole tracking store into another: ``bakehouse migrate`` and ``bakehouse sync``.

Sources: an MLflow SQL database (any revision since 2.0), an MLflow file store, or a tracking server over
REST (MLflow or Bakehouse). Destinations: a Bakehouse database or server (ids kept), or an MLflow server.
"""
