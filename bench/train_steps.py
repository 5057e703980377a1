"""Where `detector train` spends its time: each step, and the parts of each fit.

Usage: python bench/train_steps.py --data FILE [--model PATH]

Trains as `detector train FILE --model PATH` does (without --valid: a fit measured on
the last fifth, then a fit again on every row), in this process, and prints the wall
seconds of every step it names and of the parts of each fit: the features (and within
them their first stage, the history's aggregation and the whole-history tables) and the
classifiers. FILE: `detector generate --rows 1000000 --seed 7 --out FILE` for the
training target's million rows.
"""

import argparse
import functools
import tempfile
import time
from pathlib import Path

from detector.app.pipeline import train
from detector.features import _builder
from detector.models import _model


def _timed(cls, name: str, depth: int) -> None:
    """Print the seconds of every call of ``cls.name``, indented by ``depth``."""
    method = getattr(cls, name)

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        out = method(*args, **kwargs)
        print(f"{'  ' * depth}{name}: {time.perf_counter() - t0:.2f} s", flush=True)
        return out

    setattr(cls, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()
    for name in ("_stage_months", "_aggregate_history", "_fit_whole_history"):
        _timed(_builder.DeclarationFeatures, name, 2)
    for name in ("_fit_features", "_fit_classifiers"):
        _timed(_model.FraudModel, name, 1)
    with tempfile.TemporaryDirectory() as folder:
        path = args.model or Path(folder) / "model.joblib"
        t0 = time.perf_counter()
        last = [t0, "starting"]

        def step(text: str) -> None:
            now = time.perf_counter()
            print(f"{last[1]}: {now - last[0]:.2f} s", flush=True)
            last[:] = [now, text]

        train([args.data], path, step=step)
        step("done")
        print(f"total {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
