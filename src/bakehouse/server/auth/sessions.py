"""Signed browser sessions: an HMAC-signed cookie carrying the user id, an expiry and a CSRF secret.

Nothing is stored server-side; every server process that shares the secret key (``BAKEHOUSE_SECRET_KEY``)
accepts the cookie. State-changing requests authenticated by the cookie must echo the CSRF secret in the
``X-CSRF-Token`` header, which a page on another origin cannot read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from bakehouse.errors import InvalidParameterError

COOKIE_NAME = "bakehouse_session"
CSRF_HEADER = "x-csrf-token"
SESSION_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Session:
    user_id: int
    expires: int
    csrf: str
    generation: str  # digest of the user's password hash when the session began


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise InvalidParameterError(
                "The session secret (BAKEHOUSE_SECRET_KEY) must be at least 16 bytes long"
            )
        self._key = hashlib.sha256(b"bakehouse-session:" + secret).digest()

    def issue(self, user_id: int, generation: str, seconds: int = SESSION_SECONDS) -> tuple[str, Session]:
        session = Session(user_id, int(time.time()) + seconds, secrets.token_urlsafe(24), generation)
        payload = _b64(
            json.dumps(
                {"u": session.user_id, "e": session.expires, "c": session.csrf, "g": session.generation}
            ).encode()
        )
        return f"{payload}.{self._sign(payload)}", session

    def verify(self, cookie: str) -> Session | None:
        payload, _, signature = cookie.partition(".")
        if not payload or not signature or not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            data = json.loads(_unb64(payload))
            session = Session(int(data["u"]), int(data["e"]), str(data["c"]), str(data["g"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > time.time() else None

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())
