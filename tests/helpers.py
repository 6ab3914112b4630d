"""Checks shared by the tests: the citation rule, and a live uvicorn server."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Sequence

import httpx

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


READER_CORPUS = ROOT / "tests" / "data" / "reader"  # articles written for the reader's tests


def hashing_service(seeds: Path, tmp: Path):
    """A QAService over `seeds` with the production settings but the instant hashing embedder."""
    from qa.config import Settings
    from qa.embed import HashingEmbedder
    from qa.service import QAService

    settings = Settings(_env_file=None, seeds_dir=seeds, index_dir=tmp / "index", data_dir=tmp / "data",
                        model="hashing-test-embedder")
    return QAService.open(settings, embedder=HashingEmbedder())


def seed_text(source: str) -> str:
    return (SEEDS / source).read_bytes().decode("utf-8")


def assert_citation_rule(body: dict) -> int:
    """Every citation satisfies text[start:end] == quote, and locates the words it cites:
    start <= answer_start <= answer_end <= end. The answer's text is the first citation's wording, and
    lies inside every quote whose wording is the same; a citation may word it differently only in a
    corroborated answer (support_count > 1). Speakers and list items cite their own words likewise.
    Returns how many citations were checked."""
    checked = 0
    for answer in body["answers"]:
        assert answer["citations"], f"answer without citation: {answer['text']!r}"
        assert answer["text"] in answer["context"]
        for n, c in enumerate(answer["citations"]):
            wording = _check_citation(c)
            if n == 0:
                assert wording == answer["text"], (wording, answer["text"])
                assert c["quote"] == answer["context"]
            if wording == answer["text"]:
                assert answer["text"] in c["quote"], (answer["text"], c["quote"])
            else:
                assert answer.get("support_count", 1) > 1, (answer["text"], wording)
            checked += 1
        assert answer.get("support_count", 1) == len({c["doc_id"] for c in answer["citations"]}) or answer.get("items")
        mentions = ([answer["speaker"]] if answer.get("speaker") else []) + (answer.get("items") or [])
        for m in mentions:
            assert _check_citation(m["citation"]) == m["text"], m
            checked += 1
    for p in body.get("passages", []):
        assert seed_text(p["source"])[p["start"] : p["end"]] == p["text"]
    return checked


def _check_citation(c: dict) -> str:
    """Checks one citation's offsets; returns the words it cites (its wording)."""
    text = seed_text(c["source"])
    assert text[c["start"] : c["end"]] == c["quote"], c
    start, end = c.get("answer_start", c["start"]), c.get("answer_end", c["end"])
    assert c["start"] <= start <= end <= c["end"], c
    return text[start:end]


class FirstCallHeld:
    """Records the texts of each call to `hold`; the first call sets `entered` and waits until `gate` is set,
    so a test can queue more work behind it."""

    def __init__(self):
        self.gate, self.entered, self.calls = threading.Event(), threading.Event(), []

    def hold(self, texts) -> None:
        self.calls.append(list(texts))
        if len(self.calls) == 1:
            self.entered.set()
            assert self.gate.wait(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server(env: dict[str, str], timeout: float = 120.0, wait_for: str = "/readyz", log_path: Path | None = None,
                factory: str = "api.app:create_app", args: Sequence[str] = ()):
    """The real app (from `factory`) under the real uvicorn, in a child process on a free loopback port.
    Waits until `wait_for` answers 200. `args`: more of uvicorn's options (`--workers 2`). The server's output goes to `log_path` (a temporary file when
    not given), never to a pipe nobody reads, which would stall a chatty server once the pipe is full."""
    port = free_port()
    log_file = open(log_path, "w+") if log_path else tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1", "--port", str(port), *args],
        cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
        stdout=log_file, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                log_file.seek(0)
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log_file.read()}")
            try:
                if httpx.get(base + wait_for, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become ready in time")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_file.close()
