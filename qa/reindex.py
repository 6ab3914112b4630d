"""Reindexing a running service: build beside the live index, then swap in one assignment.

`Reindexer.request()` starts a build on a background thread with the already-loaded embedder (or,
when one is running, queues exactly one more, so a document added mid-build is never left out).
`request(full=False)` (an article added or removed) updates incrementally from the live index: only
new texts are embedded and analysed (qa/update.py); a full rebuild asked for meanwhile wins.
The new index is written beside the live one and its `current` link swapped atomically
(qa.index.save_index); then `swap(new_service)` replaces the live reference. A question that started
on the old service finishes on it; the next one gets the new service. A failed build changes nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from typing import Callable

from qa.config import Settings
from qa.embed import Embedder
from qa.index import Index
from qa.errors import RemoteError
from qa.service import QAService, ensure_index

log = logging.getLogger(__name__)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass(frozen=True, slots=True)
class ReindexStatus:
    state: str  # idle | running | succeeded | failed
    job: int  # number of the latest job started; 0 before the first
    queued: bool  # another build will start when this one ends
    started_at: str | None = None
    finished_at: str | None = None
    build: str | None = None  # the build the latest successful job swapped in
    error: str | None = None


class Reindexer:
    def __init__(self, settings: Settings, embedder: Embedder, swap: Callable[[QAService], None],
                 make_service: Callable[[Index], QAService] | None = None,
                 live: Callable[[], Index | None] | None = None):
        """`make_service(index)` builds the service to swap in (default: over `embedder`, no optional stages);
        `live()` is the index being served, which an incremental update starts from (None: the one on disk)."""
        self.settings, self.embedder, self.swap = settings, embedder, swap
        self.make_service = make_service or (lambda index: QAService(settings, index, embedder))
        self.live = live or (lambda: None)
        self._lock = threading.Condition()
        self._status = ReindexStatus("idle", 0, False)
        self._thread: threading.Thread | None = None
        self._full = True  # what the running (or queued) job does: a full rebuild, or an incremental update
        self._outcomes: dict[int, str] = {}  # job -> succeeded | failed, the latest few

    def status(self) -> ReindexStatus:
        with self._lock:
            return self._status

    def request(self, full: bool = True) -> ReindexStatus:
        """Start a build, or queue one more if a build is running. Returns at once. The job that will
        include what changed before this call is `job + 1` when `queued`, else `job` (see `wait_for`)."""
        with self._lock:
            if self._status.state == "running":
                self._full = full or (self._full if self._status.queued else False)
                self._status = replace(self._status, queued=True)
                return self._status
            self._full = full
            self._status = ReindexStatus("running", self._status.job + 1, False, _now(), build=self._status.build)
            self._thread = threading.Thread(target=self._run, name="reindex", daemon=True)
            self._thread.start()
            return self._status

    def wait(self, timeout: float | None = None) -> ReindexStatus:
        """Block until no build is running (tests and shutdown)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                thread = self._thread
            if thread is None or not thread.is_alive():
                return self.status()
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if deadline is not None and time.monotonic() >= deadline:
                return self.status()

    def wait_for(self, job: int, timeout: float) -> ReindexStatus:
        """Block until job number `job` has ended (or `timeout` seconds pass); the status then."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._status.job < job or (self._status.job == job and self._status.state == "running"):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return self._status

    def outcome(self, job: int) -> str | None:
        """How job number `job` ended (succeeded, failed), or None while it has not (or long ago)."""
        with self._lock:
            return self._outcomes.get(job)

    def _run(self) -> None:
        while True:
            try:
                with self._lock:
                    full = self._full
                if self.settings.backend == "qdrant":
                    # A Qdrant collection is synced in place (new and changed articles upserted, removed ones
                    # deleted), for a full reindex as for a document change: rebuilding it would drop the
                    # collection the live service is answering from.
                    index = ensure_index(self.settings, self.embedder)
                else:
                    index = ensure_index(self.settings, self.embedder, rebuild=full,
                                         live=None if full else self.live())
                self.swap(self.make_service(index))
                outcome = {"state": "succeeded", "build": index.path.name if index.path else None, "error": None}
                log.info("reindex swapped in build %s", outcome["build"])
            except Exception as exc:  # the old index keeps serving; the status says why
                log.exception("reindex failed; the previous index is still served")
                outcome = {"state": "failed", "error": f"{type(exc).__name__}: {exc}"}
            with self._lock:
                self._outcomes[self._status.job] = outcome["state"]
                for old in [j for j in self._outcomes if j <= self._status.job - 1000]:
                    del self._outcomes[old]
                if self._status.queued:
                    self._status = replace(self._status, state="running", job=self._status.job + 1, queued=False,
                                           started_at=_now(), finished_at=None, error=None,
                                           build=outcome.get("build", self._status.build))
                    self._lock.notify_all()
                    continue
                self._status = replace(self._status, finished_at=_now(), **outcome)
                self._lock.notify_all()
                return


# ---------------------------------------------------------------- a running server, from the CLI
def reindex_remote(url: str, admin_key: str, timeout: float = 600.0, poll: float = 0.5) -> dict:
    """`POST {url}/admin/reindex`, then poll `GET {url}/admin/reindex` until the job ends.
    Returns the final status; raises RemoteError when the server refuses or the build fails."""
    started = _call("POST", url.rstrip("/") + "/admin/reindex", admin_key)
    job = started["job"] + (1 if started.get("queued") else 0)  # a queued build is the next job
    deadline = time.monotonic() + timeout
    while True:
        status = _call("GET", url.rstrip("/") + "/admin/reindex", admin_key)
        if status["job"] >= job and status["state"] in ("succeeded", "failed") and not status["queued"]:
            break
        if time.monotonic() > deadline:
            raise RemoteError(f"the reindex did not finish within {timeout:g} s; last status: {status}")
        time.sleep(poll)
    if status["state"] == "failed":
        raise RemoteError(f"the server's reindex failed (its previous index is still served): {status['error']}")
    return status


def _call(method: str, url: str, admin_key: str) -> dict:
    request = urllib.request.Request(url, method=method, headers={"X-Admin-Key": admin_key, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read())
            reason = f"{body.get('error')}: {body.get('detail')}"
        except ValueError:
            reason = exc.reason
        raise RemoteError(f"{method} {url} answered {exc.code} ({reason})") from None
    except (urllib.error.URLError, OSError) as exc:
        raise RemoteError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from None
