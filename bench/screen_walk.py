"""The screen's cost: its first trees walked on bins (each value binned first) against
walked on the values themselves, on the same rows, taking turns in one run.

Usage: python bench/screen_walk.py --data DIR [--runs 3]

DIR holds ``day.csv`` and a model ``m.joblib`` trained on its ``history.parquet``
(``bench/score_speed.py --keep DIR`` leaves them; ``detector train`` makes the model).
Printed: each run's seconds of both walks, the median of each and their ratio, and
whether the two give the same probabilities to the last bit.
"""

import numpy as np
from _turns import kept_rows, take_turns
from scipy.special import expit

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
    args, model, accepted = kept_rows()
    table = model.transform(accepted)
    matrix = model.matrix(table)
    clf = model.classifier_.steps[-1][1]
    predictor, trees = Predictor(clf), model.config.screen_trees
    print(f"{matrix.shape[0]:,} rows, {matrix.shape[1]} columns, first {trees} trees")
    done = take_turns(
        {
            "bins": lambda: binned_screen(predictor, matrix, trees),
            "values": lambda: screen_positive(clf, matrix, trees),
        },
        args.runs,
    )
    print(f"same probabilities to the last bit: {np.array_equal(done['bins'], done['values'])}")


if __name__ == "__main__":
    main()
