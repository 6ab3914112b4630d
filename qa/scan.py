"""The corpus read again without reading every file: a file whose stat has not changed keeps its Article.

`qa.ingest.load_articles` reads and hashes every file, which is what a first start does. A running service
(or a bench) that updates the index after each added article asks `CorpusScanner.load` instead: it reads
only the files that are new or whose stat (inode, size, modification and change times in nanoseconds, of
the text and of its metadata sidecar) differs from when it was last read. A file modified less than
`RACY_NS` before it was read is read again next time, however its stat looks (git's rule for its index: a
write in the same clock tick as the read would leave the stat equal).

Which files to stat: the first look at a folder stats every file; after it, on Linux, the kernel says
which names changed (an inotify watch on the folder, set before that first listing, `_Watches`), so a
later look stats those names only and keeps a sorted listing of the rest: its cost follows what changed,
not the corpus. Where inotify is missing or its queue overflowed, every file is stat'ed again, as before.
inotify sees what this machine's kernel does to the folder's entries: a corpus on a network filesystem
written by other hosts, or a text rewritten through a hard link kept outside the folder or through the
target of a symbolic link, is seen at the next start or reindex (`ingest.load_articles`), not by this
scanner.
"""

from __future__ import annotations

import bisect
import ctypes
import ctypes.util
import logging
import os
import stat
import struct
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from qa import ingest, metadata
from qa.errors import ConfigError
from qa.types import Article

log = logging.getLogger(__name__)

RACY_NS = 2_000_000_000
MAX_WATCHED = 8  # folders watched at once per scanner (tests make many; a server one)

Stamp = tuple[tuple[int, int, int, int] | None, tuple[int, int, int, int] | None]


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


@dataclass
class _Listing:
    """A folder as last looked at: its `.txt` names in order, the Article of each, and what to read again."""

    wd: int | None  # its inotify watch (None: stat every file at each look)
    names: list[str] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)
    stamps: dict[str, Stamp] = field(default_factory=dict)
    untrusted: set[str] = field(default_factory=set)  # read too soon after a write: read again next time


class CorpusScanner:
    def __init__(self, racy_ns: int = RACY_NS, watch: bool = True):
        self.racy_ns = racy_ns
        self._listings: dict[str, _Listing] = {}  # folder -> its listing, most recently used last
        self._watch, self._watches, self._pid = watch, None, None
        self._lock = threading.Lock()

    def load(self, seeds_dir: Path, known: Mapping[str, Article] | None = None) -> list[Article]:
        """What `ingest.load_articles(seeds_dir, known)` returns, reading only new or changed files."""
        if not seeds_dir.is_dir():
            return ingest.load_articles(seeds_dir, known)  # raises the error that names the setting
        key = str(seeds_dir.resolve())
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child: a queue of its own (a shared one splits the events)
                self._listings, self._pid = {}, os.getpid()
                self._watches = _Watches.open() if self._watch else None
            listing = self._listings.pop(key, None)
            changed = self._watches.changed(listing.wd) if listing is not None and listing.wd is not None else None
            if changed is None:
                listing = self._full(seeds_dir, key, listing, known)
            else:
                self._look_at(seeds_dir, listing, changed | listing.untrusted, known)
            self._listings[key] = listing
            self._forget_beyond(MAX_WATCHED)
            if not listing.names:
                raise ConfigError(f"seeds folder {str(seeds_dir)!r} has no .txt files")
            return list(listing.articles)

    # ------------------------------------------------------------ every file
    def _full(self, seeds_dir: Path, key: str, old: _Listing | None, known) -> _Listing:
        wd = self._watches.watch(key) if self._watches is not None else None  # before listing: nothing missed
        with os.scandir(seeds_dir) as entries:  # one listing gives every file's stat (no Path per file)
            stats = {e.name: _stamp(e.stat()) for e in entries if e.is_file()}
        listing = _Listing(wd, sorted(n for n in stats if n.endswith(".txt")))
        now = time.time_ns()
        for name in listing.names:
            s = (stats[name], stats.get(name[: -len(".txt")] + metadata.SIDECAR_SUFFIX))
            listing.articles.append(self._article(seeds_dir, name, s, old, known, listing, now))
        return listing

    # ------------------------------------------------------------ the names the kernel says changed
    def _look_at(self, seeds_dir: Path, listing: _Listing, names: set[str], known) -> None:
        now = time.time_ns()
        for name in sorted({_text_name(n) for n in names} - {None}):
            text = _stat_file(seeds_dir / name)
            at = bisect.bisect_left(listing.names, name)
            present = at < len(listing.names) and listing.names[at] == name
            if text is None:
                if present:
                    del listing.names[at], listing.articles[at]
                listing.stamps.pop(name, None)
                listing.untrusted.discard(name)
                continue
            s = (text, _stat_file(seeds_dir / (name[: -len(".txt")] + metadata.SIDECAR_SUFFIX)))
            article = self._article(seeds_dir, name, s, listing, known, listing, now)
            if present:
                listing.articles[at] = article
            else:
                listing.names.insert(at, name)
                listing.articles.insert(at, article)

    def _article(self, seeds_dir: Path, name: str, s: Stamp, old: _Listing | None, known, listing: _Listing,
                 now: int) -> Article:
        """The file's Article: the one read before when its stamp is the same and was trusted, else read now."""
        before = old.stamps.get(name) if old is not None else None
        if before is not None and before == s and name not in old.untrusted:
            article = old.articles[bisect.bisect_left(old.names, name)]
        else:
            article = ingest.read_article(seeds_dir / name, known)
        listing.stamps[name] = s
        if all(x is None or now - max(x[2], x[3]) >= self.racy_ns for x in s):
            listing.untrusted.discard(name)
        else:
            listing.untrusted.add(name)
        return article

    def _forget_beyond(self, most: int) -> None:
        while len(self._listings) > most:
            listing = self._listings.pop(next(iter(self._listings)))
            if listing.wd is not None:
                self._watches.unwatch(listing.wd)


def _text_name(name: str) -> str | None:
    """The article a changed name belongs to (its text or its sidecar), or None (a temporary file)."""
    if name.endswith(metadata.SIDECAR_SUFFIX):
        return name[: -len(metadata.SIDECAR_SUFFIX)] + ".txt"
    return name if name.endswith(".txt") else None


def _stat_file(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return _stamp(st) if stat.S_ISREG(st.st_mode) else None


# ---------------------------------------------------------------- inotify
_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE, _IN_MOVED_FROM, _IN_MOVED_TO = 0x2, 0x4, 0x8, 0x40, 0x80
_IN_CREATE, _IN_DELETE, _IN_DELETE_SELF, _IN_MOVE_SELF = 0x100, 0x200, 0x400, 0x800
_IN_Q_OVERFLOW, _IN_IGNORED, _IN_NONBLOCK, _IN_CLOEXEC = 0x4000, 0x8000, 0o4000, 0o2000000
_MASK = (_IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE
         | _IN_DELETE_SELF | _IN_MOVE_SELF)
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name


class _Watches:
    """One inotify instance (an open file) for a scanner's folders: per watched folder, the names the kernel
    reported changed since its last look. None from `changed`: look at every file (the queue overflowed,
    the folder went, or the watch was dropped)."""

    def __init__(self, libc, fd: int):
        self._libc, self._fd = libc, fd
        self._pending: dict[int, set[str] | None] = {}
        weakref.finalize(self, os.close, fd)

    @classmethod
    def open(cls) -> "_Watches | None":
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        except (OSError, AttributeError):  # not Linux
            return None
        if fd < 0:
            log.info("no inotify instance (%s): the corpus is stat'ed file by file", os.strerror(ctypes.get_errno()))
            return None
        return cls(libc, fd)

    def watch(self, folder: str) -> int | None:
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(folder), _MASK)
        if wd < 0:
            log.info("cannot watch %s (%s): stat'ed file by file", folder, os.strerror(ctypes.get_errno()))
            return None
        self._drain()
        self._pending[wd] = set()  # what happened before this listing is in it
        return wd

    def unwatch(self, wd: int) -> None:
        self._libc.inotify_rm_watch(self._fd, wd)
        self._pending.pop(wd, None)

    def changed(self, wd: int) -> set[str] | None:
        self._drain()
        names = self._pending.get(wd)
        if names is None:
            self._pending.pop(wd, None)
            return None
        self._pending[wd] = set()
        return names

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                return
            at = 0
            while at < len(data):
                wd, mask, _, size = _EVENT.unpack_from(data, at)
                name = data[at + _EVENT.size : at + _EVENT.size + size].rstrip(b"\0")
                at += _EVENT.size + size
                if mask & _IN_Q_OVERFLOW:
                    self._pending = {w: None for w in self._pending}
                elif mask & (_IN_IGNORED | _IN_DELETE_SELF | _IN_MOVE_SELF):
                    if wd in self._pending:
                        self._pending[wd] = None
                elif self._pending.get(wd) is not None and name:
                    self._pending[wd].add(os.fsdecode(name))


SCANNER = CorpusScanner()
STAT_SCANNER = CorpusScanner(watch=False)  # QA_CORPUS_WATCH=false


def scanner(watch: bool) -> CorpusScanner:
    """The scanner for a service whose `corpus_watch` setting is `watch`."""
    return SCANNER if watch else STAT_SCANNER
