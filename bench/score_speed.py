"""`detector train` and `detector score` on N synthetic CSV rows, against what they cannot avoid.

Usage: python bench/score_speed.py [--rows N] [--keep DIR] [--until-now]

Measured in one run, each command in a fresh process (start-up and imports count):
  - bare read: a Polars read of the CSV and nothing else;
  - bare predict: `predict_proba` of the fitted classifier on the same rows' feature
    matrix (features computed beforehand);
  - in the benchmark's own process, the steps scoring cannot skip: reading and
    validating the rows, their features, and the whole classifier on the fifth of the
    rows that the screen passes to it for a 5 % list;
  - `detector score FILE --model M --out flagged.csv --top 5%` end to end;
  - `detector train FILE --model M` on the same rows;
  - with --until-now, the classifier shipped until the backtest chose another (three
    boosting models of 511 leaves at learning rate 0.06, up to 400 trees each) is
    trained on the same history, and the two classifiers' bare predicts are timed in
    turn, twice: scikit-learn's predict_proba, and the binned walk scoring uses.
Peak memory of score and train: of the largest process, from `/usr/bin/time -v` where it
exists, and of all the command's processes together (training fits its models in
worker processes), sampled with psutil where it is installed.
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str]) -> tuple[float, float | None, float | None]:
    """Wall seconds, and peak resident GB of a command run in a fresh process: of its
    largest process (``/usr/bin/time -v``) and of all its processes together (the
    command and any workers it starts, sampled every 0.1 s with psutil). Either peak is
    None where its tool is missing."""
    try:
        import psutil
    except ImportError:
        psutil = None
    wrapper = ["/usr/bin/time", "-v"] if shutil.which("/usr/bin/time") else []
    # Output goes to files, not pipes: a pipe nobody reads while the loop below samples
    # would stall a command that writes more than the pipe holds.
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    t0 = time.perf_counter()
    proc = subprocess.Popen(wrapper + cmd, stdout=out, stderr=err, text=True)
    summed = None
    if psutil is not None:
        top, summed = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            try:
                members = [top, *top.children(recursive=True)]
                summed = max(summed, sum(m.memory_info().rss for m in members))
            except psutil.Error:
                pass
            time.sleep(0.1)
        summed /= 1024**3
    proc.wait()
    seconds = time.perf_counter() - t0
    out.seek(0), err.seek(0)
    stdout, stderr = out.read(), err.read()
    out.close(), err.close()
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{stdout}\n{stderr}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    return seconds, (int(peak.group(1)) / 1024**2 if peak else None), summed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--until-now", action="store_true")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    data, history, model = folder / "day.csv", folder / "history.parquet", folder / "m.joblib"
    subprocess.run(
        [
            py,
            "-m",
            "detector",
            "generate",
            "--rows",
            str(args.rows),
            "--seed",
            "5",
            "--out",
            str(data),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            py,
            "-m",
            "detector",
            "generate",
            "--rows",
            "300000",
            "--seed",
            "6",
            "--out",
            str(history),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [py, "-m", "detector", "train", str(history), "--model", str(model)],
        check=True,
        capture_output=True,
    )

    read_s, *_ = timed([py, "-c", f"import polars as pl; pl.read_csv({str(data)!r})"])

    import polars as pl

    from detector import read_declarations
    from detector.io.persist import load_model
    from detector.models._predict import predict_positive

    fitted, _ = load_model(model)
    t0 = time.perf_counter()
    accepted = read_declarations(data).accepted
    validate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    table = fitted.transform(accepted)
    features_s = time.perf_counter() - t0
    matrix = fitted.matrix(table)
    clf = fitted.classifier_.steps[-1][1]
    t0 = time.perf_counter()
    clf.predict_proba(matrix)
    predict_s = time.perf_counter() - t0
    # What a 5 % list needs of the whole classifier: the screen's candidates, a fifth
    # of the rows, walked as scoring walks them (on the trees' bins).
    fifth = matrix[: max(1, matrix.shape[0] // 5)]
    t0 = time.perf_counter()
    predict_positive(clf, fifth)
    fifth_s = time.perf_counter() - t0
    compared = []
    if args.until_now:
        from detector.app.backtest import tree_count
        from detector.models import FraudModel, ModelConfig

        old = FraudModel(ModelConfig(n_models=3, learning_rate=0.06, max_iter=400)).fit(
            pl.read_parquet(history)
        )
        old_clf = old.classifier_.steps[-1][1]
        old_matrix = old.matrix(table)
        for _ in range(2):
            for name, c, m in (("shipped", clf, matrix), ("until now", old_clf, old_matrix)):
                t0 = time.perf_counter()
                c.predict_proba(m)
                compared.append((f"{name}, predict_proba", tree_count(c), time.perf_counter() - t0))
                t0 = time.perf_counter()
                predict_positive(c, m)
                compared.append((f"{name}, binned walk", tree_count(c), time.perf_counter() - t0))
        del old, old_matrix
    del accepted, table, matrix, fifth

    score_s, score_gb, score_sum = timed(
        [
            py,
            "-m",
            "detector",
            "score",
            str(data),
            "--model",
            str(model),
            "--out",
            str(folder / "flagged.csv"),
            "--top",
            "5%",
        ]
    )
    train_s, train_gb, train_sum = timed(
        [py, "-m", "detector", "train", str(data), "--model", str(folder / "big.joblib")]
    )
    n = pl.scan_csv(data).select(pl.len()).collect().item()

    def gb(x):
        return "n/a" if x is None else f"{x:.2f} GB"

    print(f"rows: {n:,} ({data.stat().st_size / 1e6:.0f} MB CSV)")
    print(f"bare Polars read:            {read_s:6.2f} s")
    print(f"bare predict_proba:          {predict_s:6.2f} s")
    for name, trees, seconds in compared:
        print(f"  {name + ',':<32} {trees:4d} trees: {seconds:6.2f} s")
    print("in this process, what scoring cannot skip:")
    print(f"  read and validate:         {validate_s:6.2f} s")
    print(f"  features:                  {features_s:6.2f} s")
    print(f"  classifier on a fifth:     {fifth_s:6.2f} s  (binned walk; a 5 % list's candidates)")
    print(f"  sum:                       {validate_s + features_s + fifth_s:6.2f} s")
    print(
        f"detector score --top 5%:     {score_s:6.2f} s  ({n / score_s:,.0f} rows/s), "
        f"peak {gb(score_gb)} (all processes {gb(score_sum)})"
    )
    print(f"  ratio to read + predict:   {score_s / (read_s + predict_s):6.2f}x")
    print(
        f"detector train:              {train_s:6.2f} s, peak {gb(train_gb)} "
        f"(all processes {gb(train_sum)})"
    )
    if args.keep is None:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
