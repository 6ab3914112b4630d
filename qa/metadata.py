"""An article's metadata: what it is checked against, and the sidecar file that keeps it.

The article's text is stored byte for byte in `<doc_id>.txt` (citations are offsets into it); what is
known about it besides (title, outlet, url, when it was published, its language) lives beside it in
`<doc_id>.meta.json`. A text without a sidecar takes its date and title from the text itself.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

from qa.errors import InvalidDocument

FIELDS = ("title", "outlet", "url", "published", "language")
SIDECAR_SUFFIX = ".meta.json"
MAX_CHARS = {"title": 500, "outlet": 200, "url": 2000, "published": 40, "language": 35}
_LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def sidecar(text_path: Path) -> Path:
    """`seeds/x.txt` -> `seeds/x.meta.json`."""
    return text_path.with_name(text_path.stem + SIDECAR_SUFFIX)


def check(meta: dict) -> dict:
    """The metadata with only known fields, each checked and `published` normalized; None values dropped.
    Raises InvalidDocument naming the field and what is allowed."""
    unknown = sorted(set(meta) - set(FIELDS))
    if unknown:
        raise InvalidDocument(f"unknown metadata field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(FIELDS)}")
    out: dict[str, str] = {}
    for name in FIELDS:
        value = meta.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise InvalidDocument(f"{name} must be a non-blank string")
        value = value.strip()
        if len(value) > MAX_CHARS[name]:
            raise InvalidDocument(f"{name} is {len(value)} characters; the limit is {MAX_CHARS[name]}")
        out[name] = value
    if "url" in out:
        parts = urlsplit(out["url"])
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in out["url"]):
            raise InvalidDocument("url must be an absolute http:// or https:// address without spaces")
    if "published" in out:
        out["published"] = published(out["published"])
    if "language" in out and not _LANGUAGE_RE.match(out["language"]):
        raise InvalidDocument("language must be a BCP 47 tag such as 'en' or 'en-GB'")
    return out


def published(value: str) -> str:
    """An ISO 8601 date (2025-06-01) or date and time with its zone (2025-06-01T09:30:00+02:00, or Z),
    normalized; anything else is refused."""
    hint = "use YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS] with a zone such as Z or +02:00"
    if _DATE_RE.match(value):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise InvalidDocument(f"published {value!r} is not a real date; {hint}") from None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidDocument(f"published {value!r} is not a date; {hint}") from None
    if moment.tzinfo is None:
        raise InvalidDocument(f"published {value!r} has a time but no zone; {hint}")
    return moment.isoformat()


def day(value: str) -> str:
    """The calendar date of a `published` value, as written (its own zone's date)."""
    return value[:10]


def read_sidecar(text_path: Path) -> dict:
    """The checked metadata of `text_path`'s sidecar; {} when it has none."""
    path = sidecar(text_path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidDocument(f"metadata file {path.name!r} is not valid JSON ({exc.msg})") from None
    if not isinstance(meta, dict):
        raise InvalidDocument(f"metadata file {path.name!r} must hold a JSON object")
    try:
        return check(meta)
    except InvalidDocument as exc:
        raise InvalidDocument(f"metadata file {path.name!r}: {exc}") from None


def encode(meta: dict) -> bytes:
    return (json.dumps(meta, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8")
