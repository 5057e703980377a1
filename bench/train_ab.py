"""`detector train` of two installations on the same rows, taking turns: a change's
training cost measured in one run (only a ratio measured in one run is a figure).

Usage: python bench/train_ab.py --data FILE --before PYTHON [--runs 2]

FILE is the training history (CSV or Parquet; `detector generate --rows 1000000 --seed
7 --out FILE` for the training target's million rows). PYTHON is the interpreter of an
environment where the earlier code is installed (see bench/score_ab.py). The two train
a model on FILE in turns, ``--runs`` times each, in fresh processes, the first to go
alternating; printed: every run's wall seconds, the median of each installation and
their ratio.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--before", required=True)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    pythons = {"before": args.before, "now": sys.executable}
    times: dict[str, list[float]] = {name: [] for name in pythons}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            turn = list(pythons.items()) if i % 2 == 0 else list(pythons.items())[::-1]
            for name, py in turn:
                model = Path(tmp) / f"{name}-{i}.joblib"
                cmd = [py, "-m", "detector", "train", str(args.data.resolve()), "--model"]
                t0 = time.perf_counter()
                # From the temporary folder: a checkout's `detector` must not shadow
                # the installation's.
                done = subprocess.run([*cmd, str(model)], capture_output=True, text=True, cwd=tmp)
                seconds = time.perf_counter() - t0
                if done.returncode != 0:
                    sys.exit(f"failed: {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
                times[name].append(seconds)
                print(f"run {i + 1} {name:6s} {seconds:7.2f} s", flush=True)
    for name, values in times.items():
        print(f"median {name:6s} {statistics.median(values):7.2f} s over {len(values)} runs")
    now, before = (statistics.median(times[n]) for n in ("now", "before"))
    print(f"now / before: {now / before:.2f}")


if __name__ == "__main__":
    main()
