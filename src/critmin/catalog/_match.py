"""Name normalisation and fuzzy suggestions shared by the commodity and country catalogs."""

from __future__ import annotations

import difflib
import re
import unicodedata


def normalise(text: str) -> str:
    """Fold case, accents, punctuation and repeated spaces so that aliases compare equal."""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[^0-9a-z]+", " ", text.lower())
    return text.strip()


def closest(name: str, candidates: dict[str, str], n: int = 3) -> list[str]:
    """Up to `n` display names whose normalised key is closest to `name`.

    `candidates` maps normalised key -> display name.
    """
    keys = difflib.get_close_matches(normalise(name), list(candidates), n=n * 3, cutoff=0.5)
    out: list[str] = []
    for key in keys:
        display = candidates[key]
        if display not in out:
            out.append(display)
        if len(out) == n:
            break
    return out
