"""The corpus read again without reading every file: a file whose stat has not changed keeps its Article.

`qa.ingest.load_articles` reads and hashes every file, which is what a first start does. A running service
(or a bench) that updates the index after each added article asks `CorpusScanner.load` instead: it stats
every file (microseconds each) and reads only those that are new or whose stat (inode, size, modification
and change times in nanoseconds, of the text and of its metadata sidecar) differs from when it was last
read. A file modified less than `RACY_NS` before it was read is read again next time, however its stat
looks (git's rule for its index: a write in the same clock tick as the read would leave the stat equal).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Mapping

from qa import ingest, metadata
from qa.errors import ConfigError
from qa.types import Article

RACY_NS = 2_000_000_000

Stamp = tuple[tuple[int, int, int, int] | None, tuple[int, int, int, int] | None]


def _stamp(entry: os.DirEntry) -> tuple[int, int, int, int]:
    st = entry.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class CorpusScanner:
    def __init__(self, racy_ns: int = RACY_NS):
        self.racy_ns = racy_ns
        self._seen: dict[str, dict[str, tuple[Stamp, Article]]] = {}  # folder -> file name -> what was read
        self._lock = threading.Lock()

    def load(self, seeds_dir: Path, known: Mapping[str, Article] | None = None) -> list[Article]:
        """What `ingest.load_articles(seeds_dir, known)` returns, reading only new or changed files."""
        if not seeds_dir.is_dir():
            return ingest.load_articles(seeds_dir, known)  # raises the error that names the setting
        with os.scandir(seeds_dir) as entries:  # one listing gives every file's stat (no Path per file)
            stats = {e.name: _stamp(e) for e in entries if e.is_file()}
        names = sorted(n for n in stats if n.endswith(".txt"))
        if not names:
            raise ConfigError(f"seeds folder {str(seeds_dir)!r} has no .txt files")
        key = str(seeds_dir.resolve())
        with self._lock:
            old = self._seen.get(key, {})
            seen: dict[str, tuple[Stamp, Article]] = {}
            out = []
            now = time.time_ns()
            for name in names:
                stamp = (stats[name], stats.get(name[: -len(".txt")] + metadata.SIDECAR_SUFFIX))
                entry = old.get(name)
                if entry is not None and entry[0] == stamp:
                    article = entry[1]
                else:
                    article = ingest.read_article(seeds_dir / name, known)
                if all(s is None or now - max(s[2], s[3]) >= self.racy_ns for s in stamp):
                    seen[name] = (stamp, article)
                out.append(article)
            self._seen[key] = seen
        return out


SCANNER = CorpusScanner()
