"""The main job on the embedded default: a synthetic year, trained, scored, measured."""

import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

import polars as pl
from rich.console import Console

from detector.app.pipeline import demo_split, score, train
from detector.app.report import write_report
from detector.errors import DetectorError
from detector.io.output import write_table
from detector.synthetic.generate import generate_declarations

__all__ = ["run_demo"]


#: The demo's folder carries this file: only such a folder (or an empty one) is written to.
DEMO_MARK = ".detector-demo"


def _check_folder(out_dir: Path) -> None:
    """The demo writes a model and lists by fixed names: never over files of the user's."""
    if out_dir.exists() and not out_dir.is_dir():
        raise DetectorError(f"--out {out_dir} is a file; name a folder for the demo's outputs.")
    if out_dir.is_dir() and not (out_dir / DEMO_MARK).exists() and any(out_dir.iterdir()):
        raise DetectorError(
            f"--out {out_dir} holds files that an earlier demo did not write; name a new or "
            "empty folder for the demo's outputs."
        )


#: What the demo writes in its folder.
_WRITES = (
    DEMO_MARK,
    "months-01-09.parquet",
    "months-10-12.parquet",
    "model.joblib",
    "flagged.csv",
    "report.html",
)


def run_demo(
    out_dir: Path, *, rows: int = 300_000, seed: int = 1, console: Console, step=None
) -> dict:
    """Write the year, the model and the flagged list to ``out_dir``; return the metrics.

    ``step(text)`` is told what is being done, as it starts. A run that fails leaves
    none of its files behind (and no folder it made), and an earlier demo's files in
    the folder as they were.
    """
    _check_folder(out_dir)
    made = not out_dir.exists()
    # An earlier demo's files are set aside, not deleted, until this one has succeeded.
    kept = None
    if not made and any((out_dir / name).exists() for name in _WRITES):
        kept = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
        for name in _WRITES:
            if (out_dir / name).exists():
                os.replace(out_dir / name, kept / name)
    try:
        return _demo(out_dir, rows, seed, console, step or (lambda text: None))
    except BaseException:
        if made:
            shutil.rmtree(out_dir, ignore_errors=True)
        else:
            for name in _WRITES:
                (out_dir / name).unlink(missing_ok=True)
            for earlier in kept.iterdir() if kept else ():
                os.replace(earlier, out_dir / earlier.name)
        raise
    finally:
        if kept is not None:
            shutil.rmtree(kept, ignore_errors=True)


def _demo(out_dir: Path, rows: int, seed: int, console: Console, step) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / DEMO_MARK).write_text("The folder of `detector demo`: a demo run replaces it.\n")
    start = date(2025, 1, 1)
    step(f"generating a synthetic year of {rows:,} declarations")
    year = generate_declarations(rows=rows, seed=seed, start=start)
    history, recent = demo_split(year, start)
    # Training sees inspection outcomes only; the ground truth stays with the scoring set.
    history = history.drop(
        "true_fraud", "true_fraud_type", "true_customs_value", "true_revenue_lost"
    )
    train_file, score_file = out_dir / "months-01-09.parquet", out_dir / "months-10-12.parquet"
    write_table(history, train_file)
    write_table(recent, score_file)
    console.print(
        f"synthetic year: {year.height:,} declarations, {int(year['true_fraud'].sum()):,} "
        f"fraudulent; training on {history.height:,} ({int(history['inspected'].sum()):,} "
        f"inspected), scoring {recent.height:,}"
    )
    model_file = out_dir / "model.joblib"
    # Measured against the ground truth of months 10-12 while training.
    metrics = train([train_file], model_file, valid=[score_file], step=step)["validation"]
    step("scoring months 10-12 and explaining the list")
    result = score([score_file], model_file, top="5%")
    step("writing the list and the report")
    flagged, report = out_dir / "flagged.csv", out_dir / "report.html"
    write_table(result.scored, flagged)
    write_report(result, report)
    console.print(result.summary() + f"; wrote {flagged} and {report}", markup=False)
    console.print(result.model_age(), markup=False)
    for warning in result.drift.warnings if result.drift else []:
        console.print(f"warning: {warning}", markup=False)

    # The top of the list, case by case: what an investigator opens first.
    leads = result.scored.group_by("case_id", maintain_order=True).first()
    top = result.cases.head(10).join(
        leads.select("case_id", "declaration_id", "reasons"),
        on="case_id",
        how="left",
        maintain_order="left",
    )
    currency = result.metadata.get("currency") or ""
    for row in top.iter_rows(named=True):
        console.print(
            f"{row['case_id']}  {row['declarations']:>3} declaration(s)  importer "
            f"{row['importers'][:40]}  stake {row['duty_at_stake']:,.0f} {currency}  "
            f"risk {row['max_risk_score']:.3f}\n"
            f"       {row['declaration_id']}: {(row['reasons'] or [''])[0]}",
            markup=False,
        )

    at5 = metrics["at"]["5%"]
    flagged_ids = result.scored.filter(pl.col("selection") == "model")["declaration_id"]
    truth = recent.filter(pl.col("declaration_id").is_in(flagged_ids.implode()))
    console.print(
        f"at 5 % capacity: precision {at5['precision']:.3f}, recall {at5['recall']:.3f}, "
        f"revenue {at5['revenue']:.3f} of all recoverable revenue; AUC {metrics['auc']:.4f}"
    )
    for scheme, recall in at5["recall_by_scheme"].items():
        share = (truth["true_fraud_type"] == scheme).sum() / max(1, truth.height)
        console.print(f"  {scheme:<22} recall {recall:.3f}   share of the flagged list {share:.3f}")
    result.close()
    return metrics
