"""What sharding does to BM25 in Qdrant: each shard computes the IDF over its own passages.

Reads the points of a collection in qdrant-client's local mode (`qa index --backend qdrant --path DIR`),
loads them into Qdrant's own engine (qdrant-edge-py) once as one shard and once split over N shards by a
hash of the point id (as auto-sharding spreads them; not the server's own hash function), then asks each
question of a gold file: the one shard's BM25 top 10 against the top 10 merged from the N shards by score
(what the server does with a sharded collection's answers).

    .venv/bin/python bench/qdrant_shards.py --path /tmp/qeval --gold eval/gold.jsonl --shards 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
from pathlib import Path

from qa import qdrant_store as store
from qa.text import query_tokens


def _points(target: store.Target):
    import qdrant_edge as edge

    client, offset, out = store.client_for(target), None, []
    while True:
        page, offset = client.scroll(target.collection, limit=256, offset=offset, with_payload=["chunk_id"],
                                     with_vectors=[store.SPARSE], scroll_filter=store._kind("passage"))
        for p in page:
            v = p.vector[store.SPARSE]
            out.append(edge.Point(p.id, {store.SPARSE: edge.SparseVector(v.indices, v.values)}, p.payload))
        if offset is None:
            return out


def _shard(folder: Path, points):
    import qdrant_edge as edge

    config = edge.EdgeConfig(sparse_vectors={store.SPARSE: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)})
    shard = edge.EdgeShard.create(str(folder), config)
    if points:
        shard.update(edge.UpdateOperation.upsert_points(points))
    return shard


def _top(shards, tokens, k=10):
    import qdrant_edge as edge

    ids, values = store.sparse_query(tokens)
    query = edge.Query.Nearest(edge.SparseVector(ids, values), using=store.SPARSE)
    found = [(p.score, str(p.id)) for s in shards for p in s.query(edge.QueryRequest(limit=k, query=query))]
    return sorted(found, key=lambda f: (-f[0], f[1]))[:k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", required=True, help="the local-mode folder holding the collection")
    ap.add_argument("--collection", default="news")
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--shards", type=int, default=3)
    args = ap.parse_args()
    points = _points(store.Target(None, args.path, None, args.collection))
    questions = [json.loads(line)["question"] for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        one = [_shard(Path(tmp, "one"), points)]
        parts = [[p for p in points if int(hashlib.sha256(str(p.id).encode()).hexdigest(), 16) % args.shards == n]
                 for n in range(args.shards)]
        many = [_shard(Path(tmp, f"part{n}"), part) for n, part in enumerate(parts)]
        same1 = same5 = same10 = asked = 0
        deviations = []
        for q in questions:
            tokens = query_tokens(q)
            a, b = _top(one, tokens), _top(many, tokens)
            if not a:
                continue
            asked += 1
            same1 += a[0][1] == b[0][1]
            same5 += [i for _, i in a[:5]] == [i for _, i in b[:5]]
            same10 += {i for _, i in a} == {i for _, i in b}
            mine = {i: s for s, i in b}
            deviations += [abs(mine[i] - s) / s for s, i in a if i in mine and s > 0]
        print(f"{len(points)} passages; {args.shards} shards of {', '.join(str(len(p)) for p in parts)}; "
              f"{asked} questions with a BM25 hit")
        print(f"same top 1: {same1}/{asked}; same top 5 in order: {same5}/{asked}; same top-10 set: {same10}/{asked}")
        print(f"relative score change of a passage in both top 10s: median {statistics.median(deviations):.3f}, "
              f"max {max(deviations):.3f}")
        for s in one + many:
            s.close()


if __name__ == "__main__":
    main()
