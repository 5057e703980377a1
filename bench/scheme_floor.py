"""What "every scheme's recall@5 % at 0.8 or more" asks of a list, fold by fold.

Read from a backtest record (``bench/backtest.py --json``): per fold, the places in the
5 % list, the frauds of each scheme in the period, the frauds the list must hold so
that every scheme has 0.8 of its own (the sum over schemes of ``ceil(0.8 * n)``), the
precision that takes, and the engine's list as it is: its precision, its frauds, and
the frauds of the schemes below 0.8 it would have to take in, in place of listed
frauds of the schemes above. A list that holds fewer frauds than the floor cannot
reach it by any reordering of the frauds: only by a higher precision.

    python bench/scheme_floor.py bench/out/backtest-usual-by-seller.json [--model NAME]
"""

import argparse
import json
import math
from pathlib import Path

FLOOR = 0.8
LEVEL = "5%"


def fold_line(run: dict) -> tuple[str, int, int]:
    at = run["at"][LEVEL]
    places, schemes = at["inspected"], run["schemes"]
    need = sum(math.ceil(FLOOR * n) for n in schemes.values())
    held = round(at["precision"] * places)
    by = {s: round(at["recall_by_scheme"][s] * n) for s, n in schemes.items()}
    short = {s: math.ceil(FLOOR * n) - by[s] for s, n in schemes.items()}
    missing = sum(v for v in short.values() if v > 0)
    spare = sum(-v for v in short.values() if v < 0)
    line = (
        f"{places:6,} places {run['frauds']:6,} frauds ({run['frauds'] / places:.2f} a place)"
        f"  floor {need:6,} ({need / places:.3f} precision)"
        f"  engine holds {held:6,} ({at['precision']:.3f})"
        f"  short {missing:4,} in {', '.join(f'{s} {v}' for s, v in short.items() if v > 0)}"
        f"  spare {spare:4,}"
    )
    return line, need, held


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("record", type=Path)
    parser.add_argument("--model", default="engine: 3 boosting x 511 leaves, lr 0.2, <=60 trees")
    args = parser.parse_args()
    record = json.loads(args.record.read_text())
    below = total = 0
    for dataset, models in record.items():
        for run in models.get(args.model, []):
            if "schemes" not in run:
                continue
            line, need, held = fold_line(run)
            total += 1
            below += held < need
            print(f"{dataset}, {run.get('fold', '?')}: {line}")
    print(
        f"\n{args.model}: on {below} of {total} folds the list holds fewer frauds than "
        f"every scheme at {FLOOR} takes (no reordering of its frauds reaches the floor there)"
    )


if __name__ == "__main__":
    main()
