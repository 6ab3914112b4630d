"""End to end on the real uvicorn with the real model, on loopback: keys, limits, reindex under a stream
of questions, a build killed with SIGKILL, a corrupt index at start, a missing model.

One server is shared by the module (the model takes ~12 s to load); the fault tests start their own.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from qa.index import load_index
from tests.helpers import ROOT, SEEDS, assert_citation_rule, live_server

pytestmark = pytest.mark.model

USER, ADMIN = {"X-API-Key": "live-user-key"}, {"X-Admin-Key": "live-admin-key"}
QUESTIONS = ["Who is the Kremlin spokesman?", "Who led Russia's delegation at the Istanbul talks?",
             "How long did Trump and Putin speak on Monday?", "What did Putin not agree to?"]


def _env(tmp, **extra) -> dict[str, str]:
    (tmp / "admin.key").write_text(ADMIN["X-Admin-Key"] + "\n")
    if not (tmp / "seeds").exists():
        shutil.copytree(SEEDS, tmp / "seeds")
    return {"QA_SEEDS_DIR": str(tmp / "seeds"), "QA_INDEX_DIR": str(tmp / "index"), "QA_DATA_DIR": str(tmp / "data"),
            "QA_API_KEY": USER["X-API-Key"], "QA_ADMIN_KEY_FILE": str(tmp / "admin.key"),
            "QA_RATE_LIMIT_PER_MINUTE": "0", **extra}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live")
    env = _env(tmp)
    with live_server(env, log_path=tmp / "server.log") as base:
        yield base, env, tmp


def _build(tmp) -> str:
    return (tmp / "index" / "current").resolve().name


def test_keys_and_request_ids_over_the_wire(server):
    base, _, _ = server
    q = {"question": QUESTIONS[0]}
    missing, wrong = httpx.post(base + "/ask", json=q), httpx.post(base + "/ask", json=q, headers={"X-API-Key": "x"})
    ok = httpx.post(base + "/ask", json=q, headers=USER, timeout=30)
    assert (missing.status_code, wrong.status_code, ok.status_code) == (401, 403, 200)
    assert all(r.headers["X-Request-ID"] == r.json().get("request_id", r.headers["X-Request-ID"]) for r in (missing, wrong))
    assert assert_citation_rule(ok.json()) >= 1 and ok.json()["degraded"] is None
    assert httpx.get(base + "/healthz").status_code == 200 and httpx.get(base + "/readyz").status_code == 200
    assert httpx.post(base + "/admin/reindex", headers=USER).status_code == 401


def test_an_oversized_chunked_body_is_refused_over_the_wire(server):
    base, _, _ = server

    def chunks():
        yield b'{"question": "'
        for _ in range(40):
            yield b"a" * 1024
        yield b'"}'

    r = httpx.post(base + "/ask", content=chunks(), headers={**USER, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    assert httpx.post(base + "/ask", json={"question": QUESTIONS[1]}, headers=USER, timeout=30).status_code == 200


def test_questions_asked_during_a_reindex_all_succeed(server):
    """Three clients ask without pause while `qa index --url` rebuilds and swaps the index: zero errors."""
    base, env, tmp = server
    before = _build(tmp)
    stop, results, lock = threading.Event(), [], threading.Lock()

    def client(n: int):
        with httpx.Client(base_url=base, headers=USER, timeout=30) as c:
            i = n
            while not stop.is_set():
                t = time.monotonic()
                r = c.post("/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]})
                with lock:
                    results.append((t, r.status_code, r.json()))
                i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    started = time.monotonic()
    cli = subprocess.run([sys.executable, "-m", "qa.cli", "index", "--url", base], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env={**os.environ, **env})
    finished = time.monotonic()
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(30)

    assert cli.returncode == 0, cli.stderr
    after = _build(tmp)
    assert after != before and f"now serves build {after}" in cli.stdout
    statuses = [status for _, status, _ in results]
    assert statuses == [200] * len(statuses)
    during = [body for t, _, body in results if started <= t <= finished]
    assert len(during) >= 3, f"only {len(during)} questions were asked during the reindex"
    for _, _, body in results:
        assert body["degraded"] is None
        assert_citation_rule(body)


def test_qa_index_url_with_a_wrong_key_fails_clearly(server):
    base, env, _ = server
    cli = subprocess.run([sys.executable, "-m", "qa.cli", "index", "--url", base], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={**os.environ, **env, "QA_ADMIN_KEY": "wrong"})
    assert cli.returncode == 2
    assert "answered 403 (forbidden: the X-Admin-Key header does not hold the admin key)" in cli.stderr


# A real build (ensure_index, holding the build lock) that stops halfway through writing its files.
_KILLED_BUILD = """
import sys, time
import numpy as np
import qa.index
from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.service import ensure_index
real_save, calls = np.save, []
def save(*args, **kwargs):
    calls.append(args[0])
    if len(calls) == 2:  # after the JSON files and one array of the new segment: midway
        print("PAUSED", flush=True)
        time.sleep(600)
    return real_save(*args, **kwargs)
qa.index.np.save = save
ensure_index(Settings(), HashingEmbedder(name=Settings().model), rebuild=True)
"""


def test_a_build_killed_midway_leaves_the_old_index_served_and_the_next_start_cleans_up(server):
    base, env, tmp = server
    before = _build(tmp)
    child = subprocess.Popen([sys.executable, "-c", _KILLED_BUILD], cwd=ROOT, env={**os.environ, **env},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert child.stdout.readline().strip() == "PAUSED"
        partial = [p.name for p in (tmp / "index" / "segments").iterdir() if p.name.endswith(".partial")]
        assert len(partial) == 1 and (tmp / "index" / "segments" / partial[0] / "articles.jsonl").exists()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL

    # The running server never noticed; the index on disk is the old one, and it verifies.
    for q in QUESTIONS:
        assert httpx.post(base + "/ask", json={"question": q}, headers=USER, timeout=30).status_code == 200
    assert _build(tmp) == before
    assert load_index(tmp / "index").path.name == before  # every artifact's checksum checked
    assert (tmp / "index" / "segments" / partial[0]).exists()

    # The next start (the kernel released the dead builder's lock) removes the leftovers and serves.
    with live_server(env, log_path=tmp / "restart.log") as again:
        assert not (tmp / "index" / "segments" / partial[0]).exists()
        assert _build(tmp) == before
        r = httpx.post(again + "/ask", json={"question": QUESTIONS[0]}, headers=USER, timeout=30)
        assert r.status_code == 200 and assert_citation_rule(r.json()) >= 1


def test_a_corrupt_index_is_named_and_never_ready_until_rebuilt(server, tmp_path):
    _, env, tmp = server
    build = (tmp / "index" / "current").resolve()
    index = tmp_path / "index"
    shutil.copytree(build, index / "builds" / build.name)
    shutil.copytree(tmp / "index" / "segments", index / "segments")
    os.symlink(os.path.join("builds", build.name), index / "current")
    [segment] = json.loads((build / "manifest.json").read_text())["segments"]
    name = f"segments/{segment['id']}/chunk_vectors.npy"
    path = index / name
    data = bytearray(path.read_bytes())
    data[-7] ^= 0x20  # one flipped bit in a vector
    path.write_bytes(bytes(data))

    env = {**env, "QA_INDEX_DIR": str(index)}
    with live_server(env, wait_for="/healthz", log_path=tmp_path / "server.log") as base:
        ready = httpx.get(base + "/readyz")
        assert ready.status_code == 503 and ready.json()["error"] == "index_corrupt"
        assert f"index file '{name}', field 'files.chunk_vectors.npy'" in ready.json()["detail"]
        ask = httpx.post(base + "/ask", json={"question": QUESTIONS[0]}, headers=USER)
        assert ask.status_code == 503 and "chunk_vectors.npy" in ask.json()["detail"]
        assert "chunk_vectors.npy" in (tmp_path / "server.log").read_text()

        assert httpx.post(base + "/admin/reindex", headers=ADMIN).status_code == 202
        deadline = time.monotonic() + 120
        while httpx.get(base + "/admin/reindex", headers=ADMIN).json()["state"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert httpx.get(base + "/readyz").status_code == 200
        assert httpx.post(base + "/ask", json={"question": QUESTIONS[0]}, headers=USER, timeout=30).status_code == 200


def test_a_missing_model_is_a_clear_start_up_error(tmp_path):
    env = _env(tmp_path, QA_MODEL=str(tmp_path / "no-such-model"))
    with pytest.raises(RuntimeError) as caught:
        with live_server(env, timeout=120):
            pass
    output = str(caught.value)
    assert "server exited with" in output
    assert f"cannot load embedding model '{tmp_path / 'no-such-model'}'" in output
