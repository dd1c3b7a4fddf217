"""Registry webhooks: subscriptions, the transactional outbox, signed delivery with retries.

- ``sql.py``: subscriptions and the outbox in the tracking/registry database; the registry store writes an
  outbox row in the same transaction as the change it reports (so only committed changes are ever sent).
- ``sender.py``: MLflow's signature and headers, one attempt over an address-checked connection.
- ``delivery.py``: the dispatcher a server process runs to claim due rows, send them and retry with back-off.
- ``targets.py``: which URLs are allowed (https on public addresses unless widened, as in MLflow).
- ``secrets.py``: secrets are stored encrypted with a key every server process of a host shares.
- ``rest.py``: the same API over MLflow's ``/api/2.0/mlflow/webhooks`` endpoints.
"""
