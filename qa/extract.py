"""Bytes of an article file -> the text to store and the metadata found in it.

`.txt` is stored as it is. Markdown is rendered to plain text with markdown-it-py's CommonMark parser:
emphasis, link targets, images, raw HTML and block markers are dropped (`<br>` is a line break); the words
of links, list items, quotes, code and table cells are kept, a block as a paragraph, a list item or a table
row as a line. Its title is its first heading, and a YAML front matter (between two `---` lines at the top,
as Jekyll and Hugo write it) gives its metadata: `title`, `outlet`, `url`, `published` (or `date`) and
`language`; other keys are ignored. From `.html` the article's text is extracted with trafilatura (main
content only: no navigation, comments or footers), and the page's title, site name, canonical URL, date
and `<html lang>` become its metadata. For both, that text becomes the article's raw file, so citations
point into what was extracted, never into the markup (an answer never carries `**` or `](https://...)`);
the file as sent is kept beside it (qa/documents.py).
Binary or non-UTF-8 input is refused, never stored.
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
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


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
        return _markdown(text, what)
    return _html(text, what)


def _markdown(text: str, what: str) -> tuple[str, dict]:
    """The words of a Markdown document as plain text, and its first heading as its title."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.front_matter import front_matter_plugin

    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).use(front_matter_plugin).parse(text)
    found: dict = {}
    blocks: list[tuple[str, bool]] = []  # (text, a line of a list or table: no blank line before a sibling)
    lists: list[list] = []  # each open list: [ordered, the next item's number]
    marker, row, title, heading = "", None, None, False
    for tok in tokens:
        kind = tok.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            lists.append([kind == "ordered_list_open", int(tok.attrGet("start") or 1)])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            ordered, number = lists[-1]
            marker = "  " * (len(lists) - 1) + (f"{number}. " if ordered else "- ")
            lists[-1][1] += 1
        elif kind == "heading_open":
            heading = True
        elif kind == "heading_close":
            heading = False
        elif kind == "front_matter":
            found = _front_matter(tok.content, what)
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close":
            blocks.append((" | ".join(row), True))
            row = None
        elif kind in ("inline", "fence", "code_block"):
            words = _inline(tok.children or []) if kind == "inline" else tok.content.rstrip("\n")
            if row is not None:
                row.append(words.strip())
            elif words.strip():
                blocks.append((marker + words, bool(lists)))
                marker = ""
            if heading and title is None and words.strip():
                title = " ".join(words.split())
    if not blocks:
        raise InvalidDocument(f"{what}: no article text found in the Markdown")
    out = blocks[0][0]
    for (_, was_line), (words, line) in zip(blocks, blocks[1:]):
        out += ("\n" if was_line and line else "\n\n") + words
    return out + "\n", {"title": title, **found} if title else found


# The front matter's keys taken as metadata (the others, such as tags or draft, are ignored): the fields
# themselves, and `date`, the publication date in Jekyll's and Hugo's front matter.
_FRONT_MATTER = {**{name: name for name in metadata.FIELDS}, "date": "published"}


def _front_matter(block: str, what: str) -> dict:
    """The metadata a Markdown document's YAML front matter gives (checked by the caller, as given fields are)."""
    import datetime

    import yaml

    try:
        values = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise InvalidDocument(f"{what}: the front matter is not valid YAML{where}; write `key: value` lines "
                              "between two `---` lines") from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise InvalidDocument(f"{what}: the front matter is nested too deeply; write `key: value` lines "
                              "between two `---` lines") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise InvalidDocument(f"{what}: the front matter must be `key: value` lines (a YAML mapping)")
    out = {}
    for key, field in _FRONT_MATTER.items():
        value = values.get(key)
        if value is None or field in out and key == "date":
            continue
        out[field] = value.isoformat() if isinstance(value, (datetime.date, datetime.datetime)) else value
    return out


def _inline(children) -> str:
    """An inline run's words: text and code as written, breaks (and HTML `<br>`) as line breaks; emphasis,
    link targets, images and other raw HTML dropped (as trafilatura drops them from a page)."""
    parts = []
    for tok in children:
        if tok.type in ("text", "code_inline"):
            parts.append(tok.content)
        elif tok.type in ("softbreak", "hardbreak") or (tok.type == "html_inline" and _BR.fullmatch(tok.content)):
            parts.append("\n")
    return "".join(parts)


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
