"""qa/index.py under faults: damaged artifacts are named, builds never overlap, leftovers are removed."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading

import pytest

from qa.embed import HashingEmbedder
from qa.errors import IndexCorrupt
from qa.index import build_lock, cleanup, load_index
from qa.segments import FILES
from qa.service import ensure_index
from tests.apps import private_settings


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    settings = private_settings(tmp_path_factory.mktemp("faults"))
    ensure_index(settings, HashingEmbedder())
    return settings


def _damaged_copy(settings, tmp_path, name, damage):
    """A copy of the built index (so each case starts intact) with one file of its build or its segment damaged."""
    build = (settings.index_dir / "current").resolve()
    copy = tmp_path / "index"
    shutil.copytree(build, copy / "builds" / build.name)
    shutil.copytree(settings.index_dir / "segments", copy / "segments")
    os.symlink(os.path.join("builds", build.name), copy / "current")
    damage(copy / "builds" / build.name / name if name == "manifest.json" else copy / _segment_name(copy, name))
    return copy


def _segment_name(copy, name) -> str:
    [entry] = json.loads((copy / "current" / "manifest.json").read_text())["segments"]
    return f"segments/{entry['id']}/{name}"


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("name", FILES)  # the segment's term counts (bm25/, sentence_bm25/) among them
@pytest.mark.parametrize("damage", [_flip_byte, _truncate], ids=["flipped-byte", "truncated"])
def test_a_damaged_artifact_is_reported_by_name(built, tmp_path, name, damage):
    copy = _damaged_copy(built, tmp_path, name, damage)
    with pytest.raises(IndexCorrupt) as caught:
        load_index(copy)
    label = _segment_name(copy, name)
    assert (caught.value.file, caught.value.field) == (label, f"files.{name}")
    assert str(caught.value) == (f"index file {label!r}, field 'files.{name}': checksum does not match the manifest "
                                 "(file changed or truncated); rebuild with `qa index --force`")


def test_a_corrupt_index_is_reported_not_rebuilt(built, tmp_path):
    copy = _damaged_copy(built, tmp_path, "chunks.jsonl", _flip_byte)
    settings = built.model_copy(update={"index_dir": copy})
    with pytest.raises(IndexCorrupt, match="/chunks.jsonl'"):
        ensure_index(settings, HashingEmbedder())


def test_cleanup_removes_partial_builds_and_stray_links_but_not_the_live_build(built, tmp_path):
    copy = _damaged_copy(built, tmp_path, "manifest.json", lambda p: None)
    (copy / "builds" / "20250101T000000-deadbeef.partial").mkdir()
    (copy / "builds" / "20250101T000000-deadbeef.partial" / "articles.jsonl").write_text("{")
    os.symlink("builds/nowhere", copy / ".current-0badf00d")
    assert sorted(cleanup(copy)) == [".current-0badf00d", "20250101T000000-deadbeef.partial"]
    assert [p.name for p in (copy / "builds").iterdir()] == [(copy / "current").resolve().name]
    load_index(copy)  # intact


def test_the_build_lock_excludes_other_holders_until_released(tmp_path):
    order: list[str] = []

    def other():
        with build_lock(tmp_path):
            order.append("other holder")

    with build_lock(tmp_path):
        fd = os.open(tmp_path / ".lock", os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what another process would find
        os.close(fd)
        waiter = threading.Thread(target=other)
        waiter.start()
        waiter.join(0.3)
        order.append("first released")
    waiter.join(5)
    assert order == ["first released", "other holder"]
