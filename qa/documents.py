"""Adding an article to the corpus: a new seed file, written so that nothing is ever lost.

The file is written to a temporary name, flushed to disk, then hard-linked to its final name:
`link` fails if the name exists, so an existing article is never replaced, and a crash leaves
either no article or the whole article (never half of one). The text is checked by the same
parser the index uses first, so a file that would break every later build is refused up front.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path

from qa.errors import ConfigError, DocumentExists, InvalidDocument
from qa.ingest import parse_article
from qa.types import Article

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


def add_document(seeds_dir: Path, name: str, text: str) -> Article:
    """Write `seeds_dir/<name>.txt` holding `text` exactly; return it as the index will ingest it."""
    if not NAME_RE.match(name):
        raise InvalidDocument("name must be 1-100 letters, digits, '_' or '-', starting with a letter or digit "
                              "(it becomes the doc id; '.txt' is added)")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidDocument(f"text is not valid Unicode (unpaired surrogate at character {exc.start})") from None
    source = f"{name}.txt"
    try:
        article = parse_article(name, source, text, hashlib.sha256(raw).hexdigest())
    except ConfigError as exc:
        raise InvalidDocument(f"text cannot be indexed: {exc}") from None
    final = seeds_dir / source
    if final.exists():
        raise DocumentExists(f"{source!r} already exists; documents are never replaced, choose another name")
    tmp = seeds_dir / f".{name}.{uuid.uuid4().hex}.tmp"  # not *.txt: ingestion never sees it
    try:
        with open(tmp, "xb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, final)  # atomic, and refuses to replace
        except FileExistsError:
            raise DocumentExists(f"{source!r} already exists; documents are never replaced, choose another name") from None
    finally:
        tmp.unlink(missing_ok=True)
    fd = os.open(seeds_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return article
