"""qa/lru.py: the bounded least-recently-used map behind the query-vector and question caches."""

import threading

import pytest

from qa.lru import LRU


def test_the_least_recently_used_goes_first_and_a_read_counts_as_use():
    cache = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert (cache.get("b"), cache.get("a"), cache.get("c"), len(cache)) == (None, 1, 3, 2)
    assert (cache.hits, cache.misses) == (3, 1)


def test_a_size_below_one_is_refused_by_value():
    with pytest.raises(ValueError, match="cache size is 0; it must be at least 1"):
        LRU(0)


def test_threads_sharing_it_keep_it_within_its_size():
    cache = LRU(50)

    def work(n):
        for i in range(2000):
            cache.put((n, i % 80), i)
            cache.get((n, (i * 7) % 80))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 50 and cache.hits + cache.misses == 8000
