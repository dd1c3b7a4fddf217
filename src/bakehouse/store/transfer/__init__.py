"""Bulk reads and writes that keep ids: the storage side of ``bakehouse migrate`` and ``sync``."""
