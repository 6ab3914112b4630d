"""Every question set of eval/sets.json with its questions in lower case, as people type in chat: writes the
gold files and a sets file into OUT, for `qa eval --sets-file OUT/sets.json` (docs/evaluation.md,
"Questions typed in lower case").

    .venv/bin/python bench/lowercase_sets.py /tmp/lc
    HF_HUB_OFFLINE=1 .venv/bin/qa eval --modes hybrid --sets-file /tmp/lc/sets.json --out /tmp/lc/out
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    sets = json.loads((ROOT / "eval" / "sets.json").read_text(encoding="utf-8"))["sets"]
    lowered = []
    for s in sets:
        gold = out / f"{s['name']}.jsonl"
        with gold.open("w", encoding="utf-8") as f:
            for line in (ROOT / s["gold"]).read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    row["question"] = row["question"].lower()
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
        lowered.append({**s, "gold": str(gold), "corpus": str((ROOT / s["corpus"]).resolve())})
    (out / "sets.json").write_text(json.dumps({"sets": lowered}, indent=1), encoding="utf-8")
    print(f"{len(lowered)} sets in lower case: qa eval --sets-file {out / 'sets.json'}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/lc"))
