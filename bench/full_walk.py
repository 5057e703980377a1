"""The whole classifier's cost: every tree of every model walked on the values
themselves, against each block of rows cut into bins first and the bins walked, on the
same rows, taking turns in one run.

Usage: python bench/full_walk.py --data DIR [--runs 3] [--rows N]

DIR holds ``day.csv`` and a model ``m.joblib`` trained on its ``history.parquet``
(``bench/score_speed.py --keep DIR`` leaves them). The first ``--rows`` of the day are
used (200,000 by default: the candidates the screen passes on for a 5 % list of a
million rows). Printed: each run's seconds of both walks, the median of each and their
ratio, and whether the two give the same probabilities to the last bit.
"""

import argparse
import sys

import numpy as np
from _turns import kept_rows, take_turns

from detector.models._predict import Predictor, predict_positive


def main() -> None:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--rows", type=int, default=200_000)
    known, rest = extra.parse_known_args()
    sys.argv = [sys.argv[0], *rest]
    args, model, accepted = kept_rows()
    table = model.transform(accepted.head(known.rows))
    matrix = model.matrix(table)
    clf = model.classifier_.steps[-1][1]
    predictor = Predictor(clf)
    print(f"{matrix.shape[0]:,} rows, {matrix.shape[1]} columns, every tree of every model")
    done = take_turns(
        {
            "values": lambda: predictor.values_proba(matrix),
            "bins": lambda: predict_positive(clf, matrix),
        },
        args.runs,
    )
    print(f"same probabilities to the last bit: {np.array_equal(done['bins'], done['values'])}")


if __name__ == "__main__":
    main()
