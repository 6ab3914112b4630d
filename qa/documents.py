"""Adding and removing articles: files in the corpus folder, written so that nothing is ever lost.

An article is `<name>.txt` (its text exactly as stored: citations are offsets into it) and, beside it,
its companions: `<name>.meta.json` when it has metadata (qa/metadata.py), and `<name>.original.md` or
`<name>.original.html` when it was sent as Markdown or HTML (the file as sent, kept so a reader can check
what the text was extracted from; `original`). Each file is written to a temporary
name, flushed, then moved to its final name; the text goes last, with `link`, which fails if the
name exists, so an add never replaces an existing article. The text file is the commit point: a crash
before it leaves at most companions without their text, which ingestion ignores and the next change
removes. Removing deletes the text first, for the same reason. Replacing an article (a correction) changes
several files, so it goes through a journal: its new companions and text are written to temporary names and
made durable, then the text's is renamed to `.<name>.text.ready`, the commit point; then the companions and
the text are renamed into place. A crash before the commit point leaves the old article (its leftovers are
swept); after it, the replacement is finished by the next start, the next change of that name, or the
next removal (`_finish_replace`), so it is the old article or the new one, never a mix. Changes hold an
exclusive flock on the corpus folder itself (threads and processes alike), so a name is checked and
written at once; reading the corpus for a build holds it shared (`corpus_lock(shared=True)`), so a build
never sees half of a replacement.
The text is parsed by the same code the index uses before anything is written, so a file that would
break every later build is refused up front.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from qa import metadata
from qa.build_files import fsync_dir
from qa.errors import ConfigError, DocumentExists, DocumentNotFound, InvalidDocument
from qa.extract import FORMATS, check_text, extract
from qa.ingest import parse_article
from qa.types import Article

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
NAME_RULE = "1-100 letters, digits, '_' or '-', starting with a letter or digit"


@dataclass(frozen=True, slots=True)
class NewDocument:
    name: str  # the doc id; the file is <name>.txt
    text: str  # as sent: plain text, Markdown or HTML (see `format`)
    format: str = "text"
    meta: dict = field(default_factory=dict)  # unchecked metadata fields (qa.metadata.FIELDS)
    origin: str = ""  # where it came from, for messages ("body line 3")


def from_json(obj, what: str = "document") -> NewDocument:
    """A NewDocument from a JSON object {"name", "text", "format"?, "title"?, "outlet"?, "url"?,
    "published"?, "language"?}; InvalidDocument naming the field otherwise."""
    if not isinstance(obj, dict):
        raise InvalidDocument(f"{what} must be a JSON object with name and text")
    allowed = {"name", "text", "format", *metadata.FIELDS}
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise InvalidDocument(f"{what}: unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}")
    for key in ("name", "text"):
        if not isinstance(obj.get(key), str):
            raise InvalidDocument(f"{what}: {key} is missing or not a string")
    fmt = obj.get("format", "text")
    if fmt not in FORMATS:
        raise InvalidDocument(f"{what}: format {fmt!r} is unknown; choose one of {', '.join(FORMATS)}")
    return NewDocument(obj["name"], obj["text"], fmt, {k: obj[k] for k in metadata.FIELDS if obj.get(k) is not None},
                       what)


ORIGINALS = {"markdown": ".original.md", "html": ".original.html"}  # format -> suffix of the file as sent
MEDIA_TYPES = {"text": "text/plain", "markdown": "text/markdown", "html": "text/html"}


@dataclass(frozen=True, slots=True)
class _Prepared:
    article: Article
    raw: bytes
    meta: dict
    format: str  # what the article was sent as (FORMATS)
    original: bytes  # the file as sent when it is not the stored text (Markdown, HTML), else b""

    def companions(self) -> dict[str, bytes]:
        """What each companion file of the new version holds (b"": it has none)."""
        parts = {"meta": metadata.encode(self.meta) if self.meta else b""}
        for fmt in ORIGINALS:
            parts[fmt] = self.original if fmt == self.format else b""
        return parts


def _companion(seeds_dir: Path, stem: str, part: str) -> Path:
    """Where the companion `part` ("meta", or a format of ORIGINALS) of article `stem` lives."""
    if part == "meta":
        return metadata.sidecar(seeds_dir / f"{stem}.txt")
    return seeds_dir / f"{stem}{ORIGINALS[part]}"


_PARTS = ("meta", *ORIGINALS)
_COMPANION_SUFFIXES = (metadata.SIDECAR_SUFFIX, *ORIGINALS.values())


def prepare(doc: NewDocument) -> _Prepared:
    """Checks a document and makes the article the index will ingest, writing nothing."""
    what = f"{doc.origin} ({doc.name!r})" if doc.origin else f"document {doc.name!r}"
    if not NAME_RE.match(doc.name):
        raise InvalidDocument(f"{what}: name must be {NAME_RULE} (it becomes the doc id; '.txt' is added)")
    try:
        doc.text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidDocument(f"text is not valid Unicode (unpaired surrogate at character {exc.start})") from None
    text, found = extract(doc.text, doc.format, f"{what}: text")
    try:
        meta = metadata.check({**found, **doc.meta})  # what the sender says wins over what the page says
    except InvalidDocument as exc:
        raise InvalidDocument(f"{what}: {exc}") from None
    raw = text.encode("utf-8")
    source = f"{doc.name}.txt"
    try:
        article = parse_article(doc.name, source, text, hashlib.sha256(raw).hexdigest(), meta)
    except ConfigError as exc:
        raise InvalidDocument(f"text cannot be indexed: {exc}") from None
    return _Prepared(article, raw, meta, doc.format, doc.text.encode("utf-8") if doc.format in ORIGINALS else b"")


def add_document(seeds_dir: Path, name: str, text: str, meta: dict | None = None, fmt: str = "text") -> Article:
    """Write `seeds_dir/<name>.txt` (and its metadata); return it as the index will ingest it."""
    return add_documents(seeds_dir, [NewDocument(name, text, fmt, dict(meta or {}))])[0]


def _prepare_all(docs: Iterable[NewDocument]) -> tuple[list[_Prepared], list[str]]:
    """Every document checked (none written), and their names, each given once."""
    prepared = [prepare(d) for d in docs]
    names = [p.article.doc_id for p in prepared]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidDocument(f"name(s) given more than once: {', '.join(twice)}")
    return prepared, names


def add_documents(seeds_dir: Path, docs: Iterable[NewDocument]) -> list[Article]:
    """All of `docs` or none: every one is checked, and every name found free, before any is written."""
    prepared, names = _prepare_all(docs)
    with corpus_lock(seeds_dir):
        taken = [f"{n}.txt" for n in names if (seeds_dir / f"{n}.txt").exists()]
        if taken:
            verb = "already exists" if len(taken) == 1 else "already exist"
            raise DocumentExists(f"{', '.join(map(repr, taken))} {verb}; documents are never replaced by an add: "
                                 "choose another name, or replace it (PUT /admin/documents/{doc_id}, "
                                 "qa add --replace)")
        for n in names:  # what a crashed add of these names left (other names' leftovers: sweep_leftovers)
            _sweep_name(seeds_dir, n)
        written: list[str] = []
        try:
            for p in prepared:
                _write(seeds_dir, p)
                written.append(p.article.doc_id)
        except BaseException:
            for name in written:  # all or nothing
                _unlink(seeds_dir, name)
            raise
        fsync_dir(seeds_dir)
    return [p.article for p in prepared]


def replace_document(seeds_dir: Path, doc: NewDocument) -> Article:
    """Replace the article `doc.name` (text and metadata: what `doc` gives, nothing kept from the old one);
    DocumentNotFound when there is no such article. Checked as an added one is, before anything is written."""
    return replace_documents(seeds_dir, [doc])[0]


def replace_documents(seeds_dir: Path, docs: Iterable[NewDocument]) -> list[Article]:
    """Replace existing articles: every one is checked, and found, before any is replaced; each is replaced
    at once (a reader, or a restart after a crash, sees its old version or its new one, never a mix)."""
    prepared, names = _prepare_all(docs)
    with corpus_lock(seeds_dir):
        for n in names:
            _finish_replace(seeds_dir, n)  # a crashed replacement of it is finished first
        missing = [n for n in names if not (seeds_dir / f"{n}.txt").is_file()]
        if missing:
            raise DocumentNotFound(f"no document {', '.join(map(repr, missing))} in the corpus to replace; "
                                   "add it instead")
        for p in prepared:
            _replace(seeds_dir, p)
    return [p.article for p in prepared]


def _ready(seeds_dir: Path, stem: str) -> Path:
    """A replacement's new text once it is complete and durable: its existence is the commit point."""
    return seeds_dir / f".{stem}.text.ready"


def _replace(seeds_dir: Path, p: _Prepared) -> None:
    stem = p.article.doc_id
    text_tmp, ready = _temp(seeds_dir, stem, "text"), _ready(seeds_dir, stem)
    # each companion's new content; empty: the new version has none, so the old one goes (none there: no step)
    parts = {part: data for part, data in p.companions().items()
             if data or _companion(seeds_dir, stem, part).exists()}
    for part in set(_PARTS) - set(parts):  # a crashed change's leftover, which the commit point would adopt
        _temp(seeds_dir, stem, part).unlink(missing_ok=True)  # (those written below replace their own)
    try:
        for part, data in parts.items():
            _durable(_temp(seeds_dir, stem, part), data)
        _durable(text_tmp, p.raw)
        os.rename(text_tmp, ready)  # committed: from here on the replacement is finished, now or after a crash
    except BaseException:
        for tmp in [_temp(seeds_dir, stem, part) for part in parts] + [text_tmp]:
            tmp.unlink(missing_ok=True)
        raise
    fsync_dir(seeds_dir)
    _finish_replace(seeds_dir, stem)


def _durable(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)  # a crashed change's
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _finish_replace(seeds_dir: Path, stem: str) -> None:
    """Finish a committed replacement of `stem`, if there is one (each step can be done again after a crash):
    the companions (each the new one, or none), then the text. One whose article was meanwhile deleted by
    hand is dropped: the deletion wins."""
    ready = _ready(seeds_dir, stem)
    if not ready.exists():
        return
    text = seeds_dir / f"{stem}.txt"
    if not text.exists():
        ready.unlink(missing_ok=True)
        for part in _PARTS:
            _temp(seeds_dir, stem, part).unlink(missing_ok=True)
        return
    for part in _PARTS:
        tmp = _temp(seeds_dir, stem, part)
        if not tmp.exists():  # this step was done (or, from an older version, it had no such part)
            continue
        if tmp.stat().st_size:
            os.replace(tmp, _companion(seeds_dir, stem, part))
        else:
            _companion(seeds_dir, stem, part).unlink(missing_ok=True)
            tmp.unlink()
    os.replace(ready, text)
    fsync_dir(seeds_dir)


def remove_document(seeds_dir: Path, doc_id: str) -> None:
    """Delete `<doc_id>.txt`, then its companions (metadata, file as sent); DocumentNotFound when there is no
    such article."""
    with corpus_lock(seeds_dir):
        if NAME_RE.match(doc_id):
            _finish_replace(seeds_dir, doc_id)  # else the sweep below would finish it after the removal
        if not NAME_RE.match(doc_id) or not (seeds_dir / f"{doc_id}.txt").is_file():
            raise DocumentNotFound(f"no document {doc_id!r} in the corpus")
        if not _another_text(seeds_dir, f"{doc_id}.txt"):
            raise InvalidDocument(f"{doc_id!r} is the only article and an index needs one; add another first")
        _unlink(seeds_dir, doc_id)
        _sweep(seeds_dir)
        fsync_dir(seeds_dir)


def _another_text(seeds_dir: Path, name: str) -> bool:
    """Whether the folder holds a `.txt` article besides `name` (the listing stops at the first)."""
    with os.scandir(seeds_dir) as entries:
        return any(e.name.endswith(".txt") and e.name != name and e.is_file() for e in entries)


@contextlib.contextmanager
def corpus_lock(seeds_dir: Path, shared: bool = False):
    """A flock on the folder itself (no lock file among the articles): exclusive for a change, shared for
    reading the corpus; the kernel drops it if its holder dies, even by SIGKILL."""
    if not seeds_dir.is_dir():
        raise ConfigError(f"seeds folder {str(seeds_dir)!r} does not exist; set QA_SEEDS_DIR to the folder of .txt articles")
    fd = os.open(seeds_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def reading(seeds_dir: Path):
    """The corpus folder's lock, shared, while the corpus is read (a build, a file served): no change is seen
    half made. Nothing is locked when the folder is missing (reading it reports that), or where the
    filesystem refuses locks (an NFS mount without its lock daemon): a corpus nothing changes can be read,
    so that is a warning, not an error."""
    with contextlib.ExitStack() as stack:
        if seeds_dir.is_dir():
            try:
                stack.enter_context(corpus_lock(seeds_dir, shared=True))
            except OSError as exc:
                log.warning("reading the corpus %s without its lock (%s): a change made meanwhile may be seen "
                            "half made until the next update", seeds_dir, exc.strerror or exc)
        yield


def original(seeds_dir: Path, doc_id: str) -> tuple[bytes, str]:
    """Article `doc_id` as it was sent, and its format (FORMATS): the Markdown or HTML file its text was
    extracted from, else its text itself (sent as plain text, or stored before originals were kept).
    DocumentNotFound when the corpus folder holds no such article."""
    with reading(seeds_dir):
        text = seeds_dir / f"{doc_id}.txt"
        if not NAME_RE.match(doc_id) or not text.is_file():
            raise DocumentNotFound(f"no document {doc_id!r} in the corpus")
        for fmt in ORIGINALS:
            with contextlib.suppress(FileNotFoundError):
                return _companion(seeds_dir, doc_id, fmt).read_bytes(), fmt
        return text.read_bytes(), "text"


def _write(seeds_dir: Path, p: _Prepared) -> None:
    final = seeds_dir / p.article.source
    for part, data in p.companions().items():
        where = _companion(seeds_dir, final.stem, part)
        if data:
            _atomic(seeds_dir, final.stem, part, data, lambda tmp, where=where: os.replace(tmp, where))
        else:
            where.unlink(missing_ok=True)  # a leftover from a crashed add of this name

    def link(tmp: Path) -> None:
        try:
            os.link(tmp, final)  # atomic, and refuses to replace
        except FileExistsError:
            raise DocumentExists(f"{p.article.source!r} already exists; documents are never replaced by an "
                                 "add: choose another name") from None

    _atomic(seeds_dir, final.stem, "text", p.raw, link)


def _temp(seeds_dir: Path, stem: str, part: str) -> Path:
    """The temporary file a change of `stem` writes `part` ("text", or a companion's) to: hidden and not *.txt, so
    ingestion never sees it; one name per article and part (adds hold the corpus lock), so a crash's
    leftover is found by its name, not by listing the folder."""
    return seeds_dir / f".{stem}.{part}.tmp"


def _atomic(seeds_dir: Path, stem: str, part: str, data: bytes, commit) -> None:
    tmp = _temp(seeds_dir, stem, part)
    try:
        _durable(tmp, data)
        commit(tmp)
    finally:
        tmp.unlink(missing_ok=True)


def _unlink(seeds_dir: Path, name: str) -> None:
    (seeds_dir / f"{name}.txt").unlink(missing_ok=True)  # the commit point goes first
    for part in _PARTS:
        _companion(seeds_dir, name, part).unlink(missing_ok=True)


def _sweep_name(seeds_dir: Path, stem: str) -> None:
    """What a crashed add of `stem` left: its temporary files, and its companions when its text is absent."""
    for part in ("text", *_PARTS):
        _temp(seeds_dir, stem, part).unlink(missing_ok=True)
    if not (seeds_dir / f"{stem}.txt").exists():
        for part in _PARTS:
            _companion(seeds_dir, stem, part).unlink(missing_ok=True)
        _ready(seeds_dir, stem).unlink(missing_ok=True)


def sweep_leftovers(seeds_dir: Path) -> None:
    """What crashed changes left anywhere in the folder (one listing): done at a start (qa.service.ensure_index
    without a live index) and by each removal; an add sweeps only its own names, at a cost that does not
    grow with the corpus."""
    with corpus_lock(seeds_dir):
        _sweep(seeds_dir)


def _sweep(seeds_dir: Path) -> None:
    """Finish the replacements a crash committed, then remove what crashed changes left: temporary files,
    companions whose text is gone (one listing of the folder, names compared as strings: no stat, no pattern
    matching per file)."""
    names = set(os.listdir(seeds_dir))
    committed = [n[1 : -len(".text.ready")] for n in names if n.startswith(".") and n.endswith(".text.ready")]
    for stem in committed:
        _finish_replace(seeds_dir, stem)
    if committed:
        names = set(os.listdir(seeds_dir))
    tmp = [n for n in names if n.endswith(".tmp") and n.startswith(".") and len(n) > len(".tmp")]
    orphans = [n for n in names for suffix in _COMPANION_SUFFIXES
               if n.endswith(suffix) and n.removesuffix(suffix) + ".txt" not in names]
    for name in tmp + orphans:
        (seeds_dir / name).unlink(missing_ok=True)


def read_jsonl(data: bytes, what: str) -> list[NewDocument]:
    """JSON Lines, one document a line (blank lines skipped); InvalidDocument naming the first bad line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDocument(f"{what} is not UTF-8 (invalid byte at offset {exc.start})") from None
    docs = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidDocument(f"{what} line {n} is not valid JSON ({exc.msg})") from None
        docs.append(from_json(obj, f"{what} line {n}"))
    if not docs:
        raise InvalidDocument(f"{what} holds no documents; send one JSON object a line")
    return docs

