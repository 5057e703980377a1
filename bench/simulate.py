"""Replay a year of inspections at fixed capacity under every selection policy.

Usage: python bench/simulate.py [--seeds 1 2 3] [--rows N] [--capacity 5%]
                                [--hide SCHEME] [--kcs DIR] [--json OUT] [--plot FILE.png]
       python bench/simulate.py --speed   (times the command on a default synthetic year:
                                          three policies, monthly retraining)
       python bench/simulate.py --table OUT.json... --hide SCHEME  (the README's table of runs)

Synthetic years (one per seed, the default 300,000 rows): the first three months are
the labelled stretch, the officers' own inspections, except that the labels of one
scheme (``--hide``, default origin misdeclaration) are removed from it, as if the
officers had never found one; then nine months are replayed, monthly retraining, each
policy seeing only what it selected (the ground truth of the rows it selects). Korean
dataset (profile kcs, train.csv and valid.csv together, every row inspected): the first
three months are the stretch, the twelve after it are replayed; it records no revenue,
so frauds found is its measure.

The targets (issue 23), over the last nine replayed months: the default policy recovers
at least as much revenue as ``exploit`` (frauds on the Korean data) and finds at least
as many frauds as ``random-explore``.
"""

import argparse
import json
import time
from datetime import date
from pathlib import Path

import polars as pl

from detector import load_profile, read_declarations
from detector.app.simulate import DEFAULT_POLICY, SimulationOptions, simulate
from detector.models import POLICIES, ModelConfig
from detector.synthetic import generate_declarations

LAST = 9


def hide_scheme(year: pl.DataFrame, scheme: str, before: date) -> pl.DataFrame:
    """The year with ``scheme``'s labels taken out of the months before ``before``."""
    hidden = (pl.col("true_fraud_type") == scheme) & (pl.col("declaration_date") < before)
    return year.with_columns(
        pl.when(hidden).then(False).otherwise(pl.col("inspected")).alias("inspected"),
        *[
            pl.when(hidden).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("fraud", "fraud_type", "revenue_recovered")
        ],
    )


def report(title: str, sim, seconds: float, hidden: str | None) -> dict:
    """Print one replay's figures over its last nine months; return them."""
    months = sim.months[-LAST:]
    print(f"\n## {title}")
    print(
        f"replayed {sim.months[0]:%Y-%m}..{sim.months[-1]:%Y-%m} at {sim.options.capacity:g}% "
        f"capacity, {sim.options.retrain} retraining, {sim.fits} fits, {seconds:.0f} s; "
        f"figures over the last {len(months)} months ({months[0]:%Y-%m}..{months[-1]:%Y-%m})"
    )
    out = {}
    for name in sim.options.policies:
        m = sim.measure(name, months)
        rates = sim.hit_rates(name).filter(pl.col("month").is_in(months))
        explore = rates.filter(pl.col("selection") == "exploration")
        hit = explore["frauds"].sum() / explore["inspected"].sum() if explore.height else None
        m["exploration_hit_rate"] = None if hit is None else round(float(hit), 4)
        # The share of the capacity spent on exploration, month by month.
        shares = [
            round(float(explore.filter(pl.col("month") == mo)["inspected"].sum()) / n, 3)
            for mo, n in zip(
                months, [sim.measure(name, [mo])["inspected"] or 1 for mo in months], strict=True
            )
        ]
        m["exploration_share_by_month"] = shares
        out[name] = m
        revenue = "-" if m["revenue"] is None else f"{m['revenue']:,.0f}"
        recall = ", ".join(f"{k} {v:.3f}" for k, v in m["recall_by_type"].items())
        print(
            f"{name:16s} inspected {m['inspected']:>6,}  frauds {m['frauds']:>6,}  "
            f"precision {m['precision']:.3f}  revenue {revenue:>14}  "
            f"coverage {m['coverage']:.3f}  exploration hit rate "
            f"{'-' if hit is None else f'{hit:.3f}'}"
        )
        if recall:
            print(f"{'':16s} recall by scheme: {recall}")
        if any(shares):
            print(f"{'':16s} exploration share by month: {' '.join(f'{x:.3f}' for x in shares)}")
    if hidden:
        learnt = {n: out[n]["recall_by_type"].get(hidden) for n in out}
        print(f"hidden scheme {hidden}: recall " + ", ".join(f"{n} {v}" for n, v in learnt.items()))
    return out


def targets(results: dict, default: str) -> list[str]:
    """The issue's two targets per dataset: hold or not, with the figures."""
    lines = []
    for title, out in results.items():
        if default not in out:
            continue
        lines.append(f"{title}:")
        d, e, r = out[default], out.get("exploit"), out.get("random-explore")
        money = d["revenue"] is not None
        key = "revenue" if money else "frauds"
        if e:
            ok = d[key] >= e[key]
            lines.append(
                f"  {default} {key} {d[key]:,} vs exploit {e[key]:,}: "
                f"{'holds' if ok else 'does not hold'}"
            )
        if r:
            ok = d["frauds"] >= r["frauds"]
            lines.append(
                f"  {default} frauds {d['frauds']:,} vs random-explore "
                f"{r['frauds']:,}: {'holds' if ok else 'does not hold'}"
            )
    return lines


def plot(sim, path: Path, title: str) -> None:
    """Cumulative revenue and frauds found by month, one line per policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for name in sim.options.policies:
        per = [sim.measure(name, [m]) for m in sim.months]
        axes[0].plot(sim.months, pl.Series([p["revenue"] for p in per]).cum_sum(), label=name)
        axes[1].plot(sim.months, pl.Series([p["frauds"] for p in per]).cum_sum(), label=name)
    axes[0].set_ylabel(f"revenue recovered, cumulative ({sim.currency or 'currency'})")
    axes[1].set_ylabel("frauds found, cumulative (declarations)")
    for ax in axes:
        ax.set_xlabel("month")
        ax.spines[["top", "right"]].set_visible(False)
    axes[1].legend(frameon=False, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.autofmt_xdate()
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def speed(rows: int, capacity: str) -> None:
    """Time ``detector simulate`` as a user runs it: a written year, the default policies."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "year.parquet"
        generate_declarations(rows=rows, seed=1, start=date(2025, 1, 1)).write_parquet(path)
        command = ["detector", "simulate", str(path), "--capacity", capacity]
        command += ["--json", str(Path(folder) / "replay.json")]
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", *command], capture_output=True, text=True, check=True
        )
        seconds = time.perf_counter() - t0
    print(done.stdout)
    print(
        f"detector simulate YEAR --capacity {capacity} ({rows:,} rows, seed 1, policies "
        f"{', '.join(SimulationOptions.parse(capacity).policies)}, monthly retraining): "
        f"{seconds:.0f} s"
    )


def mean_table(results: dict, hidden: str) -> str:
    """The README's table: the synthetic years' means, and the Korean frauds."""
    synthetic = [out for title, out in results.items() if title.startswith("synthetic")]
    korean = [out for title, out in results.items() if title.startswith("Korean")]
    names = list(dict.fromkeys(n for out in synthetic for n in out))

    def mean(key, fmt, pick=lambda m, k: m[k], runs=synthetic) -> list[str]:
        """Per policy, the mean over the runs holding it ("-" where none does)."""
        cells = []
        for name in names:
            values = [pick(out[name], key) for out in runs if name in out]
            values = [v for v in values if v is not None]
            cells.append(format(sum(values) / len(values), fmt) if values else "-")
        return cells

    rows = [
        ("revenue recovered, synthetic, mean of 3 seeds (USD)", mean("revenue", ",.0f")),
        ("frauds found, synthetic, mean of 3 seeds", mean("frauds", ",.0f")),
        (
            "recall of the hidden scheme, synthetic, mean",
            mean(hidden, ".3f", lambda m, k: m["recall_by_type"].get(k)),
        ),
        ("exploration hit rate, synthetic, mean", mean("exploration_hit_rate", ".3f")),
    ]
    if korean:
        seeds = [sum(name in out for out in korean) for name in names]
        rows.append(
            (
                "frauds found, Korean (no revenue recorded), mean over seeds of the models",
                [
                    f"{cell} ({n})" if n else cell
                    for cell, n in zip(mean("frauds", ",.1f", runs=korean), seeds, strict=True)
                ],
            )
        )
    lines = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    here = Path(__file__).resolve().parents[2]
    parser.add_argument("--kcs", type=Path, default=here / "shared" / "data" / "kcs")
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--capacity", default="5%")
    parser.add_argument("--hide", default="origin_misdeclaration")
    parser.add_argument("--policies", nargs="*", default=list(POLICIES))
    parser.add_argument(
        "--model-seeds",
        type=int,
        nargs="+",
        default=[0],
        help="the Korean replay once per seed of the models (ModelConfig.seed): its noise",
    )
    parser.add_argument(
        "--exploration-share",
        type=float,
        default=None,
        help="the models' exploration share (ModelConfig.exploration_share) instead of its "
        "default; the titles say so",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--speed", action="store_true")
    parser.add_argument(
        "--table", type=Path, nargs="+", help="print the README's table of saved runs"
    )
    args = parser.parse_args()
    if args.table:
        runs: dict[str, dict] = {}
        for path in args.table:  # several runs: their policies side by side
            for title, out in json.loads(path.read_text()).items():
                if title.startswith("Korean") and "model seed" not in title:
                    title += ", model seed 0"  # a run of one seed is of the default seed
                runs[title] = runs.get(title, {}) | out
        print(mean_table(runs, args.hide))
        return
    if args.speed:
        speed(args.rows, args.capacity)
        return
    options = SimulationOptions.parse(args.capacity, policies=args.policies)
    results = {}
    for seed in args.seeds:
        year = generate_declarations(rows=args.rows, seed=seed, start=date(2025, 1, 1))
        year = hide_scheme(year, args.hide, date(2025, 4, 1))
        t0 = time.perf_counter()
        share = {}
        if args.exploration_share is not None:
            share = {"exploration_share": args.exploration_share}
        sim = simulate(year, options, config=ModelConfig(**share))
        title = f"synthetic seed {seed}, {args.rows:,} rows, {args.hide} hidden in months 1-3"
        title += f", exploration share {args.exploration_share:g}" if share else ""
        results[title] = report(title, sim, time.perf_counter() - t0, args.hide)
        if args.plot and seed == args.seeds[0]:
            plot(sim, args.plot, f"{title}, capacity {args.capacity}")
    if (args.kcs / "train.csv").exists():
        profile = load_profile("kcs")
        kcs = pl.concat(
            [read_declarations(args.kcs / f, profile).accepted for f in ("train.csv", "valid.csv")],
            how="diagonal_relaxed",
        )
        for model_seed in args.model_seeds:
            t0 = time.perf_counter()
            config = ModelConfig(extra_categorical=profile.features, seed=model_seed)
            sim = simulate(kcs, options, config=config)
            title = f"Korean dataset, {kcs.height:,} rows"
            title += f", model seed {model_seed}" if args.model_seeds != [0] else ""
            results[title] = report(title, sim, time.perf_counter() - t0, None)
    for candidate in [p for p in args.policies if p not in ("exploit", "random-explore")]:
        chosen = " (the default)" if candidate == DEFAULT_POLICY else ""
        print(f"\n## Targets for {candidate}{chosen}")
        for line in targets(results, candidate):
            print(line)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
