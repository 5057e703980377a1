"""What the screen keeps: the flagged list scored with a screen of N trees, against the
list of the whole classifier scoring every row.

Usage: python bench/screen_recall.py --data FILE --model MODEL [--schema PROFILE]
                                     [--trees 0 10 20] [--top 1% 5% 10%]
                                     [--factor 4 2] [--share 0.2 0.1]

With a capacity, ``detector score`` ranks every row by the first ``screen_trees`` trees
of the first model and lets the whole classifier score only the rows ranked highest
(``FraudModel.candidates``). For each number of trees (0: no screen, every row scored
by the whole classifier, the reference), the model is saved with that setting and
``detector score FILE --top P`` is run in a fresh process. Printed per capacity and
number of trees: the model's picks (``selection == "model"``) that are not the
reference's picks, and the command's wall seconds (one run each: compare the seconds
within one run only, on a quiet machine). With ``--factor`` and ``--share``, every
screen of N > 0 trees is tried with each pair of them: the whole classifier scores
``factor`` times the list, and at least ``share`` of the rows (the model's own setting
when they are not given).
"""

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from detector.io.persist import load_model, save_model


def scored(data: Path, model: Path, top: str, schema: str | None, out: Path) -> float:
    cmd = [sys.executable, "-m", "detector", "score", str(data), "--model", str(model)]
    cmd += ["--out", str(out), "--top", top] + (["--schema", schema] if schema else [])
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=out.parent)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--schema", default=None)
    parser.add_argument("--trees", type=int, nargs="+", default=[0, 10, 20])
    parser.add_argument("--top", nargs="+", default=["1%", "5%", "10%"])
    parser.add_argument("--factor", type=float, nargs="+", default=None)
    parser.add_argument("--share", type=float, nargs="+", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model, metadata = load_model(args.model)
        factors = args.factor or [model.config.screen_factor]
        shares = args.share or [model.config.screen_share]
        settings = [(0, factors[0], shares[0])]
        settings += [
            (n, f, s) for n in sorted(set(args.trees) - {0}) for f in factors for s in shares
        ]
        models = {}
        for n, f, s in settings:
            changes = {"screen_trees": n, "screen_factor": f, "screen_share": s}
            model.config = dataclasses.replace(model.config, **changes)
            if isinstance(metadata.get("config"), dict):  # as recorded, for the reader
                metadata["config"].update(changes)
            models[n, f, s] = folder / f"screen-{n}-{f}-{s}.joblib"
            save_model(model, metadata, models[n, f, s])
        for top in args.top:
            picks, seconds = {}, {}
            for key in settings:
                out = folder / "list.parquet"
                seconds[key] = scored(args.data.resolve(), models[key], top, args.schema, out)
                listed = pl.read_parquet(out).filter(pl.col("selection") == "model")
                picks[key] = set(listed["declaration_id"].cast(pl.String).to_list())
            reference = picks[settings[0]]
            for key in settings:
                n, f, s = key
                missing = len(reference - picks[key])
                shown = f"screen of {n:>3} trees" + (f", {f:g}x the list, >= {s:.0%}" if n else "")
                print(
                    f"top {top:>4}  {shown}: {len(picks[key]):>7,} model picks, "
                    f"{missing:>5,} not among the reference's {len(reference):,}  "
                    f"({seconds[key]:.1f} s)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
