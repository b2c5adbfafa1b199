"""WET ``conversion`` records: the plain text Common Crawl extracted, decoded as UTF-8."""

from __future__ import annotations

from dataclasses import dataclass

# More than this fraction of characters replaced by U+FFFD -> quarantine ("invalid_utf8" for WET,
# "invalid_encoding" for HTML). Below it the text is kept and the replacements are counted.
MAX_INVALID_FRACTION = 0.01

_UTF8_REPLACEMENT = "\ufffd".encode()


@dataclass
class WetText:
    text: str
    invalid: int  # number of invalid byte sequences replaced by U+FFFD


def decode_wet(payload: bytes) -> WetText:
    """UTF-8 text of a WET conversion record; invalid bytes become U+FFFD and are counted."""
    try:
        return WetText(payload.decode("utf-8"), 0)
    except UnicodeDecodeError:
        text = payload.decode("utf-8", errors="replace")
        literal = payload.count(_UTF8_REPLACEMENT)  # U+FFFD already present in valid UTF-8
        return WetText(text, max(1, text.count("\ufffd") - literal))


def too_invalid(invalid: int, text: str) -> bool:
    return invalid > 0 and invalid > MAX_INVALID_FRACTION * max(len(text), 1)
