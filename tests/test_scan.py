"""qa/scan.py: the corpus read again reads only new or changed files, and equals a full read; with an inotify
watch (the kernel names what changed) and without (every file stat'ed)."""

from __future__ import annotations

import os
import random
import shutil
import time

import pytest

from qa import ingest, scan
from qa.ingest import load_articles
from qa.scan import RACY_NS, CorpusScanner
from tests.helpers import SEEDS


@pytest.fixture(params=[True, False], ids=["inotify", "stat"])
def watch(request) -> bool:
    return request.param


def _counting(monkeypatch) -> list[str]:
    read: list[str] = []
    real = ingest.read_article

    def counting(path, known=None):
        read.append(path.name)
        return real(path, known)

    monkeypatch.setattr(ingest, "read_article", counting)
    return read


def test_only_new_or_changed_files_are_read_again(tmp_path, monkeypatch, watch):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    scanner = CorpusScanner(racy_ns=0, watch=watch)  # the copies were written just now: trust their stat at once
    expected = load_articles(seeds)
    read = _counting(monkeypatch)
    first = scanner.load(seeds)
    assert first == expected and len(read) == len(first)

    read.clear()
    assert scanner.load(seeds) == first and read == []  # nothing changed: nothing read

    name = sorted(p.name for p in seeds.glob("*.txt"))[1]
    (seeds / "zz_new.txt").write_text("A ferry sank off the coast on Monday. All passengers were rescued.\n")
    (seeds / name).with_suffix("").with_suffix(".meta.json").write_text('{"outlet": "Harbour News"}')
    read.clear()
    again = scanner.load(seeds)
    assert sorted(read) == sorted([name, "zz_new.txt"])
    monkeypatch.undo()
    assert again == load_articles(seeds) and again[1].outlet == "Harbour News"


def test_a_file_written_just_before_it_was_read_is_read_again(tmp_path, monkeypatch, watch):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    time.sleep(0.3)
    scanner = CorpusScanner(racy_ns=200_000_000, watch=watch)  # 0.2 s here (RACY_NS, 2 s, in service)
    scanner.load(seeds)
    (seeds / "zz_new.txt").write_text("A ferry sank off the coast on Monday. All passengers were rescued.\n")
    read = _counting(monkeypatch)
    scanner.load(seeds)
    assert read == ["zz_new.txt"]
    read.clear()
    scanner.load(seeds)  # within racy_ns of its write: its stat is not trusted yet
    assert read == ["zz_new.txt"] and RACY_NS >= 10**9
    time.sleep(0.3)
    scanner.load(seeds)  # read once more, now with a stat old enough to trust ...
    read.clear()
    scanner.load(seeds)  # ... and from then on not at all
    assert read == []


def test_a_file_rewritten_with_the_same_size_and_modification_time_is_read_again(tmp_path, monkeypatch, watch):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    scanner = CorpusScanner(racy_ns=0, watch=watch)
    before = scanner.load(seeds)
    target = sorted(seeds.glob("*.txt"))[0]
    text = target.read_text(encoding="utf-8")
    swapped = text.replace("the", "THE", 1)
    assert len(swapped.encode()) == len(text.encode()) and swapped != text
    st = os.stat(target)
    target.write_text(swapped, encoding="utf-8")
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # its old modification time (the change time moves)
    read = _counting(monkeypatch)
    after = scanner.load(seeds)
    assert read == [target.name] and after[0].sha256 != before[0].sha256


def test_with_a_watch_a_later_look_stats_only_the_names_that_changed(tmp_path, monkeypatch):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    scanner = CorpusScanner(racy_ns=0)
    scanner.load(seeds)
    if scanner._watches is None:
        pytest.skip("no inotify here")
    looked: list[str] = []
    real = scan._stat_file
    monkeypatch.setattr(scan, "_stat_file", lambda path: (looked.append(path.name), real(path))[1])
    (seeds / "zz_new.txt").write_text("A ferry sank off the coast on Monday. All passengers were rescued.\n")
    (seeds / ".zz_new.0123.tmp").write_text("a temporary file")
    articles = scanner.load(seeds)
    assert looked == ["zz_new.txt", "zz_new.meta.json"]  # the text and its (absent) sidecar, no other file
    monkeypatch.undo()
    assert articles == load_articles(seeds)


def test_a_watched_folder_through_many_changes_equals_a_full_read(tmp_path, watch):
    """Adds, removes, rewrites in place, sidecars written and removed, renames: after each, what the scanner
    keeps equals reading the folder anew."""
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    scanner = CorpusScanner(racy_ns=0, watch=watch)
    rng = random.Random(7)
    assert scanner.load(seeds) == load_articles(seeds)
    for step in range(40):
        names = sorted(p.name for p in seeds.glob("*.txt"))
        action = rng.choice(["add", "add", "remove", "rewrite", "meta", "unmeta", "rename"])
        target = seeds / rng.choice(names)
        if action == "add":
            (seeds / f"n{step:02d}.txt").write_text(f"Story {step} happened on day {step}. Nobody saw it coming.\n")
        elif action == "remove" and len(names) > 1:
            target.unlink()
            target.with_name(target.stem + ".meta.json").unlink(missing_ok=True)
        elif action == "rewrite":
            target.write_text(target.read_text(encoding="utf-8") + f"One more line {step}.\n", encoding="utf-8")
        elif action == "meta":
            target.with_name(target.stem + ".meta.json").write_text(f'{{"outlet": "Outlet {step}"}}')
        elif action == "unmeta":
            target.with_name(target.stem + ".meta.json").unlink(missing_ok=True)
        elif action == "rename":
            target.rename(seeds / f"r{step:02d}.txt")
            side = target.with_name(target.stem + ".meta.json")
            if side.exists():
                side.rename(seeds / f"r{step:02d}.meta.json")
        assert scanner.load(seeds) == load_articles(seeds), (step, action)


def test_a_forked_child_watches_with_a_queue_of_its_own(tmp_path):
    """A child sharing its parent's inotify queue would take events the parent never sees."""
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    scanner = CorpusScanner(racy_ns=0)
    scanner.load(seeds)
    pid = os.fork()
    if pid == 0:  # the child looks (and would drain a shared queue), then leaves at once
        ok = False
        try:
            (seeds / "zz_child.txt").write_text("A ferry sank off the coast on Monday. All passengers were rescued.\n")
            ok = scanner.load(seeds) == load_articles(seeds) and scanner._watches is not None
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert scanner.load(seeds) == load_articles(seeds)  # the parent saw the child's file too


def test_a_text_rewritten_through_a_link_outside_the_folder_is_seen_with_the_watch_off(tmp_path):
    from qa.config import Settings
    from qa.scan import SCANNER, STAT_SCANNER, scanner

    assert scanner(Settings(_env_file=None).corpus_watch) is SCANNER
    assert scanner(Settings(_env_file=None, corpus_watch=False).corpus_watch) is STAT_SCANNER
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a_tide.txt").write_text("The spring tide flooded the harbour road on Sunday.\n", encoding="utf-8")
    outside = tmp_path / "elsewhere.txt"
    os.link(seeds / "a_tide.txt", outside)
    watched, stat_every = CorpusScanner(racy_ns=0), CorpusScanner(racy_ns=0, watch=False)
    watched.load(seeds), stat_every.load(seeds)
    outside.write_text("The spring tide flooded the harbour road and two car parks on Sunday.\n", encoding="utf-8")
    assert stat_every.load(seeds) == load_articles(seeds)
    if watched._watches is not None:  # the watch sees the folder's entries only: this change is not among them
        assert watched.load(seeds) != load_articles(seeds)
