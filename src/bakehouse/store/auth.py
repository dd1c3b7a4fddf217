"""Users, API tokens and per-resource permissions, in the same database as the tracking data.

Passwords are hashed with Argon2id (argon2-cffi). API tokens are 256-bit random secrets, so a plain
SHA-256 of the token is enough to store them safely (no slow KDF needed for high-entropy secrets); only
the hash and an 8-character prefix (to recognise a token in a list) are kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bakehouse.clock import now_ms
from bakehouse.errors import AlreadyExistsError, InvalidParameterError, NotFoundError
from bakehouse.store.db import schema as s
from bakehouse.store.db.transactions import inserted_id
from bakehouse.store.password_policy import check_password
from bakehouse.store.tracking.sql.connection import SqlConnection

TOKEN_PREFIX = "bh_"


class Permission(str, Enum):
    """MLflow's classic permission set; each level includes the ones before it."""

    NO_PERMISSIONS = "NO_PERMISSIONS"
    READ = "READ"
    USE = "USE"
    EDIT = "EDIT"
    MANAGE = "MANAGE"

    @classmethod
    def parse(cls, value: Any) -> Permission:
        if isinstance(value, Permission):
            return value
        if isinstance(value, str) and value.strip().upper() in cls.__members__:
            return cls[value.strip().upper()]
        raise InvalidParameterError(
            f"Invalid permission {value!r}: expected one of READ, USE, EDIT, MANAGE, NO_PERMISSIONS"
        )

    def allows(self, level: str) -> bool:
        """``level`` is what an endpoint needs: read, use, update, delete or manage."""
        granted = {
            Permission.NO_PERMISSIONS: set(),
            Permission.READ: {"read"},
            Permission.USE: {"read", "use"},
            Permission.EDIT: {"read", "use", "update"},
            Permission.MANAGE: {"read", "use", "update", "delete", "manage"},
        }[self]
        return level in granted


RESOURCE_TYPES = ("experiment", "registered_model")
DEFAULT_PERMISSION_SETTING = "default_permission"
#: what users may do on resources nobody granted them, until an administrator sets another level
BUILTIN_DEFAULT_PERMISSION = Permission.READ


@dataclass(frozen=True)
class User:
    id: int
    username: str
    is_admin: bool

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "is_admin": self.is_admin}


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user_id: int
    name: str | None
    prefix: str
    created_time: int
    expires_time: int | None
    revoked: bool

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name or "",
            "prefix": self.prefix,
            "created_time": self.created_time,
            "revoked": self.revoked,
        }
        if self.expires_time is not None:
            out["expires_time"] = self.expires_time
        return out


def _password_hasher() -> Any:
    from argon2 import PasswordHasher  # imported only by servers with authentication on

    return PasswordHasher()


def password_generation(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AuthStore:
    def __init__(self, db_uri: str) -> None:
        self.db = SqlConnection(db_uri, default_artifact_root=".")
        self._hasher = _password_hasher()
        # verifying against this when a user does not exist keeps the timing the same as a wrong password
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))

    # ------------------------------------------------------------------------------------- users
    def create_user(self, username: str, password: str, is_admin: bool = False) -> User:
        self._check_username(username)
        check_password(password, username)
        password_hash = self._hasher.hash(password)
        try:
            with self.db.write() as conn:
                if conn.execute(select(s.users.c.id).where(s.users.c.username == username)).first():
                    raise AlreadyExistsError(f"User '{username}' already exists")
                result = conn.execute(
                    s.users.insert().values(
                        username=username,
                        password_hash=password_hash,
                        is_admin=is_admin,
                        created_time=now_ms(),
                    )
                )
                user_id = inserted_id(result)
        except IntegrityError as exc:
            raise AlreadyExistsError(f"User '{username}' already exists") from exc
        return User(user_id, username, is_admin)

    def get_user(self, username: str) -> User:
        with self.db.read() as conn:
            row = conn.execute(select(s.users).where(s.users.c.username == username)).first()
        if row is None:
            raise NotFoundError(f"User with username={username} not found")
        return User(row.id, row.username, bool(row.is_admin))

    def get_user_by_id(self, user_id: int) -> User:
        with self.db.read() as conn:
            row = conn.execute(select(s.users).where(s.users.c.id == user_id)).first()
        if row is None:
            raise NotFoundError(f"User with id={user_id} not found")
        return User(row.id, row.username, bool(row.is_admin))

    def get_user_with_generation(self, user_id: int) -> tuple[User, str] | None:
        """The user and a short digest of their password hash: sessions issued before a password change
        carry an older digest and stop working."""
        with self.db.read() as conn:
            row = conn.execute(select(s.users).where(s.users.c.id == user_id)).first()
        if row is None:
            return None
        return User(row.id, row.username, bool(row.is_admin)), password_generation(row.password_hash)

    def list_users(self) -> list[User]:
        with self.db.read() as conn:
            rows = conn.execute(select(s.users).order_by(s.users.c.username)).all()
        return [User(r.id, r.username, bool(r.is_admin)) for r in rows]

    def has_admin(self) -> bool:
        with self.db.read() as conn:
            return conn.execute(select(s.users.c.id).where(s.users.c.is_admin.is_(True))).first() is not None

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password is right; otherwise None, after the same amount of work."""
        from argon2.exceptions import InvalidHashError, VerificationError

        with self.db.read() as conn:
            row = conn.execute(select(s.users).where(s.users.c.username == username)).first()
        stored = row.password_hash if row is not None else self._dummy_hash
        try:
            self._hasher.verify(stored, password)
            ok = row is not None
        except (VerificationError, InvalidHashError):
            ok = False
        return User(row.id, row.username, bool(row.is_admin)) if ok and row is not None else None

    def update_password(self, username: str, password: str) -> None:
        check_password(password, username)
        password_hash = self._hasher.hash(password)
        with self.db.write() as conn:
            result = conn.execute(
                update(s.users).where(s.users.c.username == username).values(password_hash=password_hash)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"User with username={username} not found")

    def update_admin(self, username: str, is_admin: bool) -> None:
        with self.db.write() as conn:
            result = conn.execute(
                update(s.users).where(s.users.c.username == username).values(is_admin=bool(is_admin))
            )
            if result.rowcount == 0:
                raise NotFoundError(f"User with username={username} not found")

    def delete_user(self, username: str) -> None:
        with self.db.write() as conn:
            row = conn.execute(select(s.users.c.id).where(s.users.c.username == username)).first()
            if row is None:
                raise NotFoundError(f"User with username={username} not found")
            for table in (s.experiment_permissions, s.registered_model_permissions, s.api_tokens):
                conn.execute(delete(table).where(table.c.user_id == row.id))
            conn.execute(delete(s.users).where(s.users.c.id == row.id))

    # ------------------------------------------------------------------------------------ tokens
    def create_token(
        self, user_id: int, name: str | None = None, expires_in_seconds: int | None = None
    ) -> tuple[str, TokenInfo]:
        """A new API token; the plain token is returned once and never stored."""
        if expires_in_seconds is not None and expires_in_seconds <= 0:
            raise InvalidParameterError("A token's expiry must be in the future")
        if name is not None and (not isinstance(name, str) or len(name) > 255):
            raise InvalidParameterError("A token name must be a string of at most 255 characters")
        secret = secrets.token_urlsafe(32)
        token = TOKEN_PREFIX + secret
        now = now_ms()
        expires = now + expires_in_seconds * 1000 if expires_in_seconds else None
        with self.db.write() as conn:
            result = conn.execute(
                s.api_tokens.insert().values(
                    user_id=user_id,
                    name=name,
                    token_prefix=token[:11],
                    token_hash=hash_token(token),
                    created_time=now,
                    expires_time=expires,
                    revoked=False,
                )
            )
            token_id = inserted_id(result)
        return token, TokenInfo(token_id, user_id, name, token[:11], now, expires, False)

    def authenticate_token(self, token: str) -> User | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = hash_token(token)
        with self.db.read() as conn:
            row = conn.execute(
                select(s.api_tokens, s.users.c.username, s.users.c.is_admin)
                .join(s.users, s.users.c.id == s.api_tokens.c.user_id)
                .where(s.api_tokens.c.token_hash == digest)
            ).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked:
            return None
        if row.expires_time is not None and row.expires_time <= now_ms():
            return None
        return User(row.user_id, row.username, bool(row.is_admin))

    def list_tokens(self, user_id: int) -> list[TokenInfo]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(s.api_tokens).where(s.api_tokens.c.user_id == user_id).order_by(s.api_tokens.c.id)
            ).all()
        return [
            TokenInfo(
                r.id, r.user_id, r.name, r.token_prefix, r.created_time, r.expires_time, bool(r.revoked)
            )
            for r in rows
        ]

    def revoke_token(self, user_id: int, token_id: int, is_admin: bool = False) -> None:
        with self.db.write() as conn:
            row = conn.execute(select(s.api_tokens).where(s.api_tokens.c.id == token_id)).first()
            if row is None or (row.user_id != user_id and not is_admin):
                raise NotFoundError(f"Token {token_id} not found")
            conn.execute(update(s.api_tokens).where(s.api_tokens.c.id == token_id).values(revoked=True))

    # ------------------------------------------------------------------------------- permissions
    def _permission_table(self, resource_type: str) -> tuple[Any, Any]:
        if resource_type == "experiment":
            return s.experiment_permissions, s.experiment_permissions.c.experiment_id
        if resource_type == "registered_model":
            return s.registered_model_permissions, s.registered_model_permissions.c.name
        raise InvalidParameterError(
            f"Invalid resource type {resource_type!r}: expected one of {', '.join(RESOURCE_TYPES)}"
        )

    def get_permission(self, user_id: int, resource_type: str, resource_id: str) -> Permission | None:
        table, column = self._permission_table(resource_type)
        with self.db.read() as conn:
            row = conn.execute(
                select(table.c.permission).where(table.c.user_id == user_id, column == str(resource_id))
            ).first()
        return Permission(row[0]) if row else None

    def set_permission(
        self,
        user_id: int,
        resource_type: str,
        resource_id: str,
        permission: Permission | str,
        must_be_new: bool = False,
    ) -> None:
        table, column = self._permission_table(resource_type)
        permission = Permission.parse(permission)
        with self.db.write() as conn:
            where = (table.c.user_id == user_id) & (column == str(resource_id))
            exists = conn.execute(select(table.c.user_id).where(where)).first()
            if exists and must_be_new:
                raise AlreadyExistsError(
                    f"A permission for user {user_id} on {resource_type} {resource_id} already exists"
                )
            if exists:
                conn.execute(update(table).where(where).values(permission=permission.value))
            else:
                conn.execute(
                    table.insert().values(
                        {column.name: str(resource_id), "user_id": user_id, "permission": permission.value}
                    )
                )

    def delete_permission(self, user_id: int, resource_type: str, resource_id: str) -> None:
        table, column = self._permission_table(resource_type)
        with self.db.write() as conn:
            result = conn.execute(delete(table).where(table.c.user_id == user_id, column == str(resource_id)))
            if result.rowcount == 0:
                raise NotFoundError(f"No permission for user {user_id} on {resource_type} {resource_id}")

    def list_permissions(self, user_id: int) -> list[tuple[str, str, str]]:
        out: list[tuple[str, str, str]] = []
        with self.db.read() as conn:
            for resource_type in RESOURCE_TYPES:
                table, column = self._permission_table(resource_type)
                for rid, perm in conn.execute(
                    select(column, table.c.permission).where(table.c.user_id == user_id)
                ):
                    out.append((resource_type, str(rid), perm))
        return out

    # ------------------------------------------------------------------------- server-wide settings
    def get_default_permission(self) -> Permission | None:
        """The level users have on resources nobody granted them, or None if it was never set."""
        with self.db.read() as conn:
            value = conn.execute(
                select(s.auth_settings.c.value).where(s.auth_settings.c.name == DEFAULT_PERMISSION_SETTING)
            ).scalar()
        return Permission.parse(value) if value is not None else None

    def set_default_permission(self, permission: Permission | str) -> Permission | None:
        """Store the default level for every server sharing this database; returns the previous one."""
        level = Permission.parse(permission)
        where = s.auth_settings.c.name == DEFAULT_PERMISSION_SETTING
        try:
            with self.db.write() as conn:
                previous = conn.execute(select(s.auth_settings.c.value).where(where)).scalar()
                if previous is None:
                    conn.execute(
                        s.auth_settings.insert().values(name=DEFAULT_PERMISSION_SETTING, value=level.value)
                    )
                else:
                    conn.execute(update(s.auth_settings).where(where).values(value=level.value))
        except IntegrityError:  # another process inserted it at the same moment: update theirs
            with self.db.write() as conn:
                previous = conn.execute(select(s.auth_settings.c.value).where(where)).scalar()
                conn.execute(update(s.auth_settings).where(where).values(value=level.value))
        return Permission.parse(previous) if previous is not None else None

    def rename_registered_model(self, old: str, new: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(s.registered_model_permissions)
                .where(s.registered_model_permissions.c.name == old)
                .values(name=new)
            )

    # ----------------------------------------------------------------------------------- checks
    @staticmethod
    def _check_username(username: Any) -> None:
        if not isinstance(username, str) or not username.strip() or len(username) > 255:
            raise InvalidParameterError("A username must be a non-empty string of at most 255 characters")
        if any(ch in username for ch in ":\x00\r\n"):
            raise InvalidParameterError("A username must not contain ':' or control characters")
