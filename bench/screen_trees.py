"""The screen's walk with 20 trees against 10, on the same rows, taking turns in one run.

Usage: python bench/screen_trees.py --data DIR [--runs 5]

DIR holds ``day.csv`` and a model ``m.joblib`` trained on its ``history.parquet``
(``bench/score_speed.py --keep DIR`` leaves them; ``detector train`` makes the model).
The features and the encoder's matrix are made once; then the screen's probability of
every row (``screen_positive``: the first model's first trees, walked on the values)
is timed with 20 trees and with 10, in turns. Printed: each run's seconds, the median
of each and their ratio. (Whether 10 trees keep the list: ``bench/screen_recall.py``.)
"""

from _turns import kept_rows, take_turns

from detector.models._predict import screen_positive


def main() -> None:
    args, model, accepted = kept_rows()
    table = model.transform(accepted)
    matrix = model.matrix(table)
    clf = model.classifier_.steps[-1][1]
    print(f"{matrix.shape[0]:,} rows, {matrix.shape[1]} columns")
    take_turns(
        {
            "20 trees": lambda: screen_positive(clf, matrix, 20),
            "10 trees": lambda: screen_positive(clf, matrix, 10),
        },
        args.runs,
    )


if __name__ == "__main__":
    main()
