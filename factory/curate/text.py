"""Text as curation compares it: NFKC, case-folded, whitespace folded, split into words."""

from __future__ import annotations

import hashlib
import re
import unicodedata

WORD = re.compile(r"\w+|[^\w\s]")


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def words(text: str) -> list[str]:
    """Word and punctuation tokens of the normalized text (so `x+1` and `x + 1` are the same)."""
    return WORD.findall(normalize(text))


def exact_key(tokens: list[str]) -> bytes:
    """16 bytes per problem (of its `words`): a million problems cost ~100 MB of keys, never their text."""
    return hashlib.blake2b(" ".join(tokens).encode(), digest_size=16).digest()

