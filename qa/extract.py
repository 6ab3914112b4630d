"""Bytes of an article file -> the text to store and the metadata found in it.

`.txt` and `.md` are stored as they are (a Markdown title is its first `#` heading). From `.html` the
article's text is extracted with trafilatura (main content only: no navigation, comments or footers)
and that extracted text becomes the article's raw file, so citations point into what was extracted,
never into the HTML; the page's title, site name, canonical URL, date and `<html lang>` become its
metadata. Binary or non-UTF-8 input is refused, never stored.
"""

from __future__ import annotations

import logging
import re
import unicodedata

from qa import metadata
from qa.errors import InvalidDocument

log = logging.getLogger(__name__)

FORMATS = ("text", "markdown", "html")
SUFFIXES = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}
_HEADING_RE = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")


def decode(raw: bytes, what: str) -> str:
    """UTF-8 text, or InvalidDocument saying why it is not (NUL bytes, invalid UTF-8)."""
    if b"\x00" in raw:
        raise InvalidDocument(f"{what} is binary (it holds NUL bytes); send UTF-8 text, Markdown or HTML")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDocument(f"{what} is not UTF-8 text (invalid byte at offset {exc.start})") from None
    return check_text(text, what)


def check_text(text: str, what: str) -> str:
    """Refuses empty text and text with control characters (what binary data decoded as text looks like)."""
    if not text.strip():
        raise InvalidDocument(f"{what} is empty; send the article's text")
    for n, ch in enumerate(text):
        if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) == "Cc":
            raise InvalidDocument(f"{what} holds the control character U+{ord(ch):04X} at character {n}; "
                                  "it looks binary: send UTF-8 text, Markdown or HTML")
    return text


def extract(text: str, fmt: str, what: str) -> tuple[str, dict]:
    """(text to store, metadata found in it) of a document in format `fmt` (one of FORMATS)."""
    if fmt not in FORMATS:
        raise InvalidDocument(f"format {fmt!r} is unknown; choose one of {', '.join(FORMATS)}")
    check_text(text, what)
    if fmt == "text":
        return text, {}
    if fmt == "markdown":
        heading = _HEADING_RE.search(text)
        return text, {"title": heading.group(1).strip()} if heading else {}
    return _html(text, what)


def _html(html: str, what: str) -> tuple[str, dict]:
    import trafilatura

    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, include_images=False,
                                      include_links=False)
    body = (doc.text or "").strip() if doc is not None else ""
    if not body:
        raise InvalidDocument(f"{what}: no article text found in the HTML")
    found = {"title": doc.title, "outlet": doc.sitename, "url": doc.url, "language": _lang(html)}
    if doc.date:
        found["published"] = doc.date
    meta = {}
    for name, value in found.items():  # what the page says is kept only when it passes the same checks
        try:
            meta.update(metadata.check({name: value}) if value else {})
        except InvalidDocument as exc:
            log.info("%s: page metadata %s ignored: %s", what, name, exc)
    return body + "\n", meta


def _lang(html: str) -> str | None:
    m = re.search(r"<html\b[^>]*\blang\s*=\s*[\"']?([A-Za-z0-9-]+)", html[:4096], re.IGNORECASE)
    return m.group(1) if m else None


def format_of(filename: str) -> str:
    """The format a file's suffix names; InvalidDocument for any other suffix."""
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in SUFFIXES:
        known = ", ".join(sorted(SUFFIXES)) + ", .jsonl"
        raise InvalidDocument(f"{filename!r}: unknown format {suffix or '(no suffix)'}; add one of {known}")
    return SUFFIXES[suffix]
