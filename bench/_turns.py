"""What the one-run speed comparisons of ``bench/`` share: the rows of a kept folder,
and two ways of doing one thing timed in turns (this machine is shared and noisy, so
only the ratio of two ways measured in the same run is a figure)."""

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from detector.io.ingest import read_declarations
from detector.io.persist import load_model


def kept_rows() -> tuple[argparse.Namespace, object, pl.DataFrame]:
    """``--data DIR`` (``day.csv`` and a model ``m.joblib`` trained on its
    ``history.parquet``, as ``bench/score_speed.py --keep DIR`` leaves them) and
    ``--runs``; the model and the day's accepted rows."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    model, _ = load_model(args.data / "m.joblib")
    return args, model, read_declarations(args.data / "day.csv").accepted


def take_turns(ways: dict[str, Callable[[], object]], runs: int) -> dict[str, object]:
    """Each of two ways run ``runs`` times, the first to go alternating; prints each
    run's seconds, the medians and the second's over the first's. Returns each way's
    last result."""
    (first, _), (second, _) = ways.items()
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    results = {}
    for i in range(runs):
        for name in list(ways) if i % 2 == 0 else list(ways)[::-1]:
            t0 = time.perf_counter()
            results[name] = ways[name]()
            seconds[name].append(time.perf_counter() - t0)
        print(f"run {i + 1}: " + ", ".join(f"{n} {s[-1]:.2f} s" for n, s in seconds.items()))
    a, b = (statistics.median(seconds[n]) for n in (first, second))
    print(f"median: {first} {a:.2f} s, {second} {b:.2f} s, {second} / {first} {b / a:.2f}")
    return results
