"""Friendly generated names for runs (adjective-animal-NNN, as MLflow does)."""

from __future__ import annotations

import random

_ADJECTIVES = (
    "able", "bold", "brave", "bright", "calm", "clever", "crisp", "dapper", "eager", "fluffy", "gentle",
    "glossy", "golden", "honest", "jolly", "keen", "kind", "lively", "lucky", "merry", "mighty", "nimble",
    "patient", "polite", "proud", "quick", "quiet", "rare", "rich", "shy", "silent", "smiling", "sunny",
    "swift", "tender", "tidy", "upbeat", "vivid", "warm", "wise", "witty", "zealous",
)
_ANIMALS = (
    "ant", "bat", "bear", "bee", "bird", "boar", "cat", "colt", "crab", "crane", "deer", "dog", "dove",
    "duck", "eel", "elk", "finch", "fox", "frog", "goat", "hare", "hawk", "hen", "horse", "lark", "lynx",
    "mink", "mole", "moth", "mouse", "newt", "owl", "ox", "panda", "pig", "pony", "ram", "seal", "shrew",
    "skunk", "snail", "sow", "swan", "toad", "trout", "wasp", "whale", "wolf", "worm", "yak",
)

_random = random.SystemRandom()


def generate_run_name() -> str:
    return f"{_random.choice(_ADJECTIVES)}-{_random.choice(_ANIMALS)}-{_random.randint(0, 999):03d}"
