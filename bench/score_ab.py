"""`detector score` of two installations on the same rows, taking turns: a change's
speed measured in one run, as this shared machine needs.

Usage: python bench/score_ab.py --data DIR --before PYTHON [--runs 3] [--top 5%]

DIR holds ``day.csv`` (the rows to score) and ``history.parquet`` (the training
history), as ``bench/score_speed.py --keep DIR`` leaves them. PYTHON is the interpreter
of an environment where the earlier code is installed (for a commit: ``git worktree add
--detach TREE COMMIT; python -m venv VENV; VENV/bin/pip install -e TREE``). Each
installation trains its own model on the history, then the two score the rows in turn,
``--runs`` times each, in fresh processes, the first to go alternating; printed: every
run's wall seconds and the seconds per step the command reports, and the median of each
installation.
"""

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(cmd: list[str], where: Path) -> tuple[float, str]:
    """Wall seconds and the reported steps of ``cmd``, run from the folder ``where``:
    not from a checkout, whose ``detector`` would shadow the installation's."""
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=where)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
    steps = re.search(r"seconds per step: (.*)", done.stdout + done.stderr)
    return seconds, steps.group(1) if steps else ""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--before", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", default="5%")
    args = parser.parse_args()
    pythons = {"before": args.before, "now": sys.executable}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, py in pythons.items():
            model = folder / f"{name}.joblib"
            history = str(args.data.resolve() / "history.parquet")
            run([py, "-m", "detector", "train", history, "--model", str(model)], folder)
        times: dict[str, list[float]] = {name: [] for name in pythons}
        for i in range(args.runs):
            # Each round the other goes first: neither always runs on a warmer machine.
            turn = list(pythons.items()) if i % 2 == 0 else list(pythons.items())[::-1]
            for name, py in turn:
                out = folder / f"{name}-{i}.csv"
                cmd = [py, "-m", "detector", "score", str(args.data.resolve() / "day.csv")]
                cmd += ["--model", str(folder / f"{name}.joblib"), "--out", str(out)]
                seconds, steps = run([*cmd, "--top", args.top], folder)
                times[name].append(seconds)
                print(f"run {i + 1} {name:6s} {seconds:6.2f} s  ({steps})", flush=True)
        for name, values in times.items():
            print(f"median {name:6s} {statistics.median(values):6.2f} s over {len(values)} runs")
        ratio = statistics.median(times["now"]) / statistics.median(times["before"])
        print(f"now / before: {ratio:.2f}")


if __name__ == "__main__":
    main()
