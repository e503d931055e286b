"""The words full-text search matches: one tokenizer for every index backend.

SQLite's FTS5 splits text with its ``unicode61`` tokenizer
(``remove_diacritics 2``); :func:`words` does the same in Python (letters,
digits, private-use characters and any character beyond the Basic
Multilingual Plane make words, everything else separates them; words are
lower-cased and Latin letters lose their diacritics), so that a backend
without that tokenizer (PostgreSQL, whose parser would also split
``web-app`` three ways and treat ``1.2.3`` as a version) indexes and
searches the very same words, and both answer a query alike.

A search is a list of terms (:func:`search_terms`): every term must match;
a term that holds several words (``OS::Nova::Server``, ``vip_subnet``)
matches them as a phrase, in order, within one field.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from heater.errors import InvalidValue

# A search box, not a query language: a bound on the work one request asks for.
MAX_QUERY_TERMS = 16
MAX_QUERY_LENGTH = 256

_TERM = re.compile(r"\w", re.UNICODE)


class SearchTooLong(InvalidValue):
    def __init__(self) -> None:
        super().__init__("q", f"q is limited to {MAX_QUERY_LENGTH} characters and "
                              f"{MAX_QUERY_TERMS} words")


def search_terms(text: str) -> list[str]:
    """The terms of a search box's ``text`` that hold a word character
    (punctuation alone searches nothing); :class:`SearchTooLong` beyond the
    bounds."""
    terms = text.split()
    if len(text) > MAX_QUERY_LENGTH or len(terms) > MAX_QUERY_TERMS:
        raise SearchTooLong()
    return [term for term in terms if _TERM.search(term)]


def _is_word_character(char: str) -> bool:
    # unicode61's tables cover the Basic Multilingual Plane only: above it
    # (emoji, historic scripts) every character is part of a word.
    if ord(char) > 0xFFFF:
        return True
    category = unicodedata.category(char)
    return category[0] in "LN" or category == "Co"


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    """``char`` lower-cased, without diacritics if it is a Latin letter (as
    unicode61 does: a Greek or Cyrillic letter keeps its accents)."""
    parts = unicodedata.normalize("NFD", char.lower())
    if len(parts) > 1 and unicodedata.name(parts[0], "").startswith("LATIN"):
        return "".join(c for c in parts if unicodedata.category(c) != "Mn")
    return char.lower()


_ASCII_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """The words of ``text``, folded, in order."""
    if text.isascii():  # most text: letters and digits are the word characters
        return _ASCII_WORD.findall(text.lower())
    found: list[str] = []
    current: list[str] = []
    for char in text:
        if _is_word_character(char):
            current.append(_fold(char))
        elif current:
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return found
