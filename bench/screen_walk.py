"""The screen's cost: its first trees walked on bins (each value binned first) against
walked on the values themselves, on the same rows, taking turns in one run.

Usage: python bench/screen_walk.py --data DIR [--runs 3]

DIR holds ``day.csv`` and a model ``m.joblib`` trained on its ``history.parquet``
(``bench/score_speed.py --keep DIR`` leaves them; ``detector train`` makes the model).
Printed: each run's seconds of both walks, the median of each and their ratio, and
whether the two give the same probabilities to the last bit.
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from scipy.special import expit

from detector.io.ingest import read_declarations
from detector.io.persist import load_model
from detector.models import _sklearn_compat as compat
from detector.models._predict import BLOCK_ROWS, Predictor, _bins, _blocks, screen_positive


def binned_screen(predictor: Predictor, matrix: np.ndarray, trees: int) -> np.ndarray:
    """The screen as it was: every column of every row binned (the first model's
    binning only, a block of rows at a time), then its first trees walked."""
    model, layout, baseline = predictor._members[0]
    mapper, columns = predictor._layouts[layout]
    prepared = np.empty(matrix.shape, dtype=np.uint8)
    step = 8 * BLOCK_ROWS
    for i in range(0, matrix.shape[0], step):
        prepared[i : i + step] = _bins(mapper, columns, matrix[i : i + step])

    def walk(rows: np.ndarray) -> np.ndarray:
        raw = np.full(rows.shape[0], baseline)
        for (tree,) in compat.trees(model)[:trees]:
            missing = mapper.missing_values_bin_idx_
            raw += tree.predict_binned(rows, missing, compat.openmp_threads())
        return expit(raw)

    return _blocks(walk, prepared)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    model, _ = load_model(args.data / "m.joblib")
    table = model.transform(read_declarations(args.data / "day.csv").accepted)
    matrix = model.classifier_.named_steps["encode"].transform(table)
    clf = model.classifier_.steps[-1][1]
    predictor, trees = Predictor(clf), model.config.screen_trees
    print(f"{matrix.shape[0]:,} rows, {matrix.shape[1]} columns, first {trees} trees")
    seconds = {"bins": [], "values": []}
    for i in range(args.runs):
        turn = ["bins", "values"] if i % 2 == 0 else ["values", "bins"]
        for name in turn:
            t0 = time.perf_counter()
            if name == "bins":
                a = binned_screen(predictor, matrix, trees)
            else:
                b = screen_positive(clf, matrix, trees)
            seconds[name].append(time.perf_counter() - t0)
        print(
            f"run {i + 1}: bins {seconds['bins'][-1]:.2f} s, values {seconds['values'][-1]:.2f} s"
        )
    same = np.array_equal(a, b)
    bins, values = statistics.median(seconds["bins"]), statistics.median(seconds["values"])
    print(f"median: bins {bins:.2f} s, values {values:.2f} s, values / bins {values / bins:.2f}")
    print(f"same probabilities to the last bit: {same}")


if __name__ == "__main__":
    main()
