"""Which passwords a new or changed password may be: long enough, not common, not guessable.

Argon2 slows each guess, but a password on every attacker's first list falls in a handful of guesses
whatever the hash. The list and the estimate come from zxcvbn (Dropbox's password-strength estimator): its
30,000 most common passwords, and its guess count for patterns such as repeats, keyboard walks, sequences,
dates and common words with digits appended.
"""

from __future__ import annotations

import functools
from typing import Any

from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from bakehouse.errors import InvalidParameterError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
#: zxcvbn's score (0-4) a password must reach: 2 means about a million guesses or more
MIN_STRENGTH_SCORE = 2
#: zxcvbn refuses longer input (its matching grows quickly with length); past this a password is long enough
ESTIMATED_PREFIX = 72


@functools.cache
def common_passwords() -> frozenset[str]:
    """zxcvbn's list of the 30,000 most common passwords (lower case)."""
    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def check_password(password: Any, username: str | None = None) -> str:
    """``password`` if it may be used; otherwise InvalidParameterError saying why and what to do."""
    if not isinstance(password, str):
        raise InvalidParameterError("A password must be a string")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidParameterError(
            f"A password must be at least {MIN_PASSWORD_LENGTH} characters long (this one has "
            f"{len(password)}); a few unrelated words make a long password that is easy to remember"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidParameterError(f"A password must be at most {MAX_PASSWORD_LENGTH} characters long")
    if password.lower() in common_passwords():
        raise InvalidParameterError(
            "This password is on the list of the 30,000 most common passwords, which attackers try first; "
            "choose another"
        )
    estimate = zxcvbn(password[:ESTIMATED_PREFIX], user_inputs=[username] if username else [])
    if estimate["score"] < MIN_STRENGTH_SCORE:
        feedback = estimate.get("feedback") or {}
        why = feedback.get("warning") or "it follows a pattern that password-guessing tools try early"
        hints = " ".join(feedback.get("suggestions") or ())
        raise InvalidParameterError(
            f"This password is too easy to guess: {why.rstrip('.')}.{' ' + hints if hints else ''}"
        )
    return password
