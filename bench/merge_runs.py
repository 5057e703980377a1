"""Join saved backtest runs (``bench/backtest.py --json``) into one, each run's
candidates named with a label of its own: the same candidate run with and without
``--drop-features`` becomes two rows of one table, for ``--table`` and ``--paired``.

Usage: python bench/merge_runs.py OUT.json RUN.json[:LABEL] [RUN.json[:LABEL] ...]

The label is added to every candidate's name of its run ("NAME, LABEL"); a run given
without one keeps its names (a run of the Korean folds and one of the synthetic years
joined into one table).
"""

import json
import sys
from pathlib import Path


def main() -> None:
    out, *runs = sys.argv[1:]
    merged: dict = {}
    for run in runs:
        path, _, label = run.partition(":")
        for dataset, models in json.loads(Path(path).read_text()).items():
            for name, results in models.items():
                named = f"{name}, {label}" if label else name
                if named in merged.get(dataset, {}):
                    sys.exit(f"{path}: {dataset} / {named} is in an earlier run too: label one")
                merged.setdefault(dataset, {})[named] = results
    Path(out).write_text(json.dumps(merged, indent=1, default=str))


if __name__ == "__main__":
    main()
