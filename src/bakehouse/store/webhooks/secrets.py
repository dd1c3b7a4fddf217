"""Webhook secrets at rest: Fernet ciphertext, with a key every server process of a deployment shares.

MLflow 3.17 encrypts with ``MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY`` and, when it is unset, with a key made up
per process, so a server with several workers stores a secret with one worker's key and fails to decrypt it
in another's delivery thread. Here the key is, in order:

1. ``BAKEHOUSE_WEBHOOK_SECRET_ENCRYPTION_KEY`` / ``MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY`` (a Fernet key);
   set the same value on every host when several hosts share one database;
2. otherwise a key file (``BAKEHOUSE_WEBHOOK_SECRET_KEY_FILE``, default
   ``~/.local/share/bakehouse/webhook-secret.key``), created once with mode 0600 by whichever process needs
   it first (an exclusive create, so racing workers all end up with the same key).

The key never goes into the database, so a leaked database dump does not reveal the secrets. Each
ciphertext carries the id of its key (``bh1:<key id>:<token>``): a host holding another key reports which
key is missing instead of a bare decryption error.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from bakehouse import settings
from bakehouse.errors import BakehouseError, ErrorCode, InvalidParameterError

logger = logging.getLogger(__name__)

_PREFIX = "bh1"


class WebhookSecretError(BakehouseError):
    """A stored secret cannot be decrypted with this process's key."""

    default_code = ErrorCode.INVALID_STATE


def _fernet(key: bytes) -> Fernet:
    try:
        return Fernet(key)
    except ValueError as exc:
        raise InvalidParameterError(
            "BAKEHOUSE_WEBHOOK_SECRET_ENCRYPTION_KEY is not a valid Fernet key (32 url-safe base64-encoded "
            f"bytes; make one with `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`): {exc}"
        ) from None


class SecretBox:
    """Encrypts and decrypts webhook secrets with one key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = _fernet(key)
        self.key_id = hashlib.sha256(key).hexdigest()[:12]

    def encrypt(self, secret: str) -> str:
        token = self._fernet.encrypt(secret.encode("utf-8"))
        return f"{_PREFIX}:{self.key_id}:{token.decode('ascii')}"

    def decrypt(self, stored: str) -> str:
        prefix, _, rest = stored.partition(":")
        key_id, _, token = rest.partition(":")
        if prefix != _PREFIX or not token:
            raise WebhookSecretError("The stored webhook secret is not in a format this server can read.")
        if key_id != self.key_id:
            raise WebhookSecretError(
                f"The webhook secret was encrypted with key {key_id}, but this server has key {self.key_id}: "
                "set BAKEHOUSE_WEBHOOK_SECRET_ENCRYPTION_KEY to the same value on every server sharing the "
                "database (or re-set the webhook's secret)."
            )
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise WebhookSecretError(
                f"The webhook secret does not decrypt with key {self.key_id} (corrupted ciphertext)."
            ) from None


def _read_or_create_key_file(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Fernet.generate_key()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)  # fails if another process got there first: then theirs is the key
        logger.info("Created the webhook secret key %s", path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_bytes().strip()


_box: SecretBox | None = None
_box_source: tuple[str | None, str] | None = None
_lock = threading.Lock()


def secret_box() -> SecretBox:
    """The process's box, built once per key setting (tests change the environment between servers)."""
    global _box, _box_source
    configured = settings.webhook_secret_encryption_key()
    key_file = settings.webhook_secret_key_file()
    source = (configured, str(key_file))
    with _lock:
        if _box is None or _box_source != source:
            if configured:
                key = configured.strip().encode("ascii")
            else:
                key = _read_or_create_key_file(key_file)
            try:
                base64.urlsafe_b64decode(key)
            except ValueError:
                raise InvalidParameterError(
                    f"The webhook secret key in {key_file} is not valid base64"
                ) from None
            _box, _box_source = SecretBox(key), source
        return _box
