"""Scoring a batch of any size piece by piece: flat memory, and parallel when asked.

The batch (CSV files, Parquet files, folders of partitions) is cut into pieces of about
``piece_rows`` rows: small partitions are grouped, a large Parquet file is sliced, a
CSV file larger than a piece is first cut into Parquet pieces of raw text by Polars'
streaming engine (one that fits in a piece, as the batch's only file, is read as it
is). Peak memory then follows the size of a piece, not of the batch. The passes:

1. ids: the declaration ids of the whole batch, grouped by hash, find the rows that
   repeat an earlier id (one streaming aggregation over one column);
2. read (per piece): map and validate; accepted and rejected rows and the piece's
   batch tables go to the work folder;
3. the batch tables of all pieces are added up (day counts for split shipments and
   lane surges, per-entity daily counts for histories within the batch): the
   batch-wide features are the same however the batch was cut;
4. score (per piece): features, classifier and detectors; a narrow table of scores,
   the drift counts and the peer prices are written. With a capacity the classifier
   only screens here (the first trees of its first model, ``FraudModel.screen``);
5. rescore (with a capacity, per piece holding candidates): the rows the screen ranks
   highest over the whole batch (``FraudModel.candidates``) are scored by the whole
   classifier, and the global order is theirs;
6. select (here): the global order, the capacity, the exploration picks;
7. explain (per piece holding listed rows): the reason codes of the listed rows, written.

Steps 2, 4, 5 and 7 run through joblib: in this process (one worker), in a pool of
processes (``loky``), or on a Dask cluster (``dask``). Workers get the paths of their
piece and write their own results; they return counts, never whole frames.
"""

import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from detector.errors import DetectorError
from detector.io.ingest import (
    INPUT_ROW,
    Canonical,
    canonicalise,
    check_clashes,
    check_missing_features,
    csv_data_lines,
    cut_runs,
    duplicate_rows,
    hive_keys,
    input_files,
    line_note,
    read_checked,
    read_failure,
    scan_file,
)
from detector.io.leftovers import owner_tag
from detector.io.profiles import Profile
from detector.models import FraudModel, drift_counts, explain_rows, mechanism_of, segment_of

__all__ = ["PIECE_ROWS", "Piece", "Runner", "plan_pieces", "score_pieces"]

#: Rows per piece: big enough that the per-piece costs vanish, small enough that a
#: piece's features and model matrix take a few hundred megabytes.
PIECE_ROWS = 1_000_000


@dataclass(frozen=True)
class Part:
    """Rows ``start`` to ``start + rows`` of one Parquet file, with its hive keys."""

    path: str
    start: int
    rows: int
    hive: tuple[tuple[str, str], ...] = ()
    #: The file the user named (a CSV file's pieces are Parquet files of ours).
    source: str = ""
    #: The columns of an earlier scoring the file holds (a scored list read back).
    drop: tuple[str, ...] = ()
    #: ``csv``: the user's CSV file itself, read whole (a batch of one piece).
    kind: str = "parquet"


@dataclass(frozen=True)
class Piece:
    index: int
    parts: tuple[Part, ...]
    #: Rows of the batch before this piece: its rows are numbered from offset + 1.
    offset: int

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.parts)

    def scan(self) -> pl.LazyFrame:
        frames = []
        for part in self.parts:
            if part.kind == "csv":
                lf = scan_file(Path(part.path), "csv", [])
            else:
                lf = pl.scan_parquet(part.path).drop(part.drop).slice(part.start, part.rows)
            if part.hive:
                names = lf.collect_schema().names()
                lf = lf.with_columns(pl.lit(v).alias(k) for k, v in part.hive if k not in names)
            frames.append(lf)
        lf = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
        return lf.with_row_index(INPUT_ROW, offset=self.offset + 1)


@dataclass
class Plan:
    pieces: list[Piece]
    notes: list[str]
    names: str


def _csv_to_parquet(
    path: Path, work: Path, piece_rows: int, notes: list[str], number: int
) -> list[Path]:
    """Cut a CSV file into Parquet pieces of raw text (streaming; order kept)."""
    lf = scan_file(path, "csv", notes)
    folder = work / "csv" / str(number)
    try:
        lf.sink_parquet(
            pl.PartitionBy(folder, max_rows_per_file=piece_rows),
            mkdir=True,
            engine="streaming",
        )
    except pl.exceptions.PolarsError as exc:
        _remove_partial(folder)
        raise DetectorError(read_failure(path, exc)) from None
    return sorted(folder.glob("*.parquet")) if folder.exists() else []


def _remove_partial(folder: Path, settle: float = 0.25, limit: float = 5.0) -> None:
    """Remove the pieces of a failed cutting. Polars' writers may still finish a piece
    a few milliseconds after the error is raised, so the folder must stay gone for
    ``settle`` seconds before it counts as removed (trying for up to ``limit``)."""
    deadline = time.monotonic() + limit
    gone_since = None
    while time.monotonic() < deadline:
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
            gone_since = None
        elif gone_since is None:
            gone_since = time.monotonic()
        elif time.monotonic() - gone_since >= settle:
            return
        time.sleep(0.02)


def _whole_csv(path: Path, lines: int, piece_rows: int, notes: list[str]) -> int:
    """The rows of a CSV file of ``lines`` data lines that is a batch's one piece, read
    as it is (cutting it into Parquet first would only cost time); 0 when it must be
    cut: more lines than a piece, or rows that only a full read can count (a stray
    quote, which the cutting then explains)."""
    if lines > piece_rows:
        return 0
    said: list[str] = []
    lf = scan_file(path, "csv", said)
    try:
        rows = lf.select(pl.len()).collect().item()
    except pl.exceptions.PolarsError:
        return 0
    if rows:  # else the cutting says it all, once
        notes += said
    return rows


def plan_pieces(paths, work: Path, piece_rows: int = PIECE_ROWS) -> Plan:
    """The pieces of a batch, in reading order (files sorted, rows in file order)."""
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    files = input_files(paths)
    if not files:
        raise DetectorError("No input files were given; pass at least one CSV or Parquet file.")
    roots = [Path(str(p)) for p in paths if Path(str(p)).is_dir()]
    notes: list[str] = []
    parts: list[Part] = []
    for number, (path, kind) in enumerate(files):
        if kind == "csv":
            lines = csv_data_lines(path)
            rows = _whole_csv(path, lines, piece_rows, notes) if len(files) == 1 else 0
            if rows:
                parts.append(Part(str(path), 0, rows, source=str(path), kind="csv"))
            else:
                for chunk in _csv_to_parquet(path, work, piece_rows, notes, number):
                    n = pl.scan_parquet(chunk).select(pl.len()).collect().item()
                    parts.append(Part(str(chunk), 0, n, source=str(path)))
                    rows += n
            note = line_note(path, lines, rows) if rows else None
            notes += [note] if note else []
            continue
        lf = scan_file(path, kind, notes)  # checks the footer: a clear error if broken
        n = lf.select(pl.len()).collect().item()
        hive = tuple(hive_keys(path, roots).items())
        # What scan_file drops: an earlier run's columns (scores, a rejects file's rows).
        kept = set(lf.collect_schema().names())
        drop = tuple(c for c in pl.read_parquet_schema(path) if c not in kept)
        for start in range(0, max(n, 1), piece_rows):
            rows = min(piece_rows, n - start)
            parts.append(Part(str(path), start, rows, hive, str(path), drop))
    pieces: list[Piece] = []
    group: list[Part] = []
    offset = done = 0
    for part in parts:
        if group and sum(p.rows for p in group) + part.rows > piece_rows:
            pieces.append(Piece(len(pieces), tuple(group), offset))
            offset += sum(p.rows for p in group)
            group = []
        group.append(part)
        done += part.rows
    if group:
        pieces.append(Piece(len(pieces), tuple(group), offset))
    if done == 0:
        names = ", ".join(map(str, paths))
        raise DetectorError(f"Input {names} has a header but no rows; nothing to do.")
    return Plan(pieces, notes, ", ".join(map(str, paths)))


# ---------------------------------------------------------------------------- running


class Runner:
    """Maps a function over pieces: here, in a loky pool, or on a Dask cluster.

    ``progress(stage, pieces, rows)`` is called as each piece finishes.
    """

    def __init__(
        self,
        workers: int = 1,
        backend: str = "loky",
        scheduler: str | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        if backend not in ("loky", "dask"):
            raise DetectorError(f"--backend must be loky or dask, not '{backend}'.")
        if workers < 1:
            raise DetectorError(f"--workers must be 1 or more, not {workers}.")
        if scheduler and backend != "dask":
            raise DetectorError("--scheduler needs --backend dask.")
        self.workers, self.backend, self.scheduler = workers, backend, scheduler
        self.progress = progress or (lambda stage, pieces, rows: None)
        self._client = self._cluster = None

    def __enter__(self) -> "Runner":
        if self.backend == "dask":
            self._client = _dask_client(self.scheduler, self.workers)
        return self

    def __exit__(self, *exc) -> None:
        if self._client is None:
            return
        cluster = getattr(self._client, "_detector_cluster", None)
        try:
            self._client.close()
        finally:
            if cluster is not None:
                try:
                    cluster.close()
                finally:
                    shutil.rmtree(self._client._detector_scratch, ignore_errors=True)

    def default_piece_rows(self, rows: int) -> int:
        """Rows per piece: ``rows`` shared among the worker processes of this machine
        (each holds a piece at a time), so that more workers do not take more memory.
        A remote cluster's workers have their own memory and get whole pieces."""
        return rows if self.scheduler else max(10_000, rows // self.workers)

    def runs_here(self, n_tasks: int) -> bool:
        """Whether ``n_tasks`` tasks run one after the other in this process."""
        return self.backend == "loky" and min(self.workers, n_tasks) <= 1

    def map(self, stage: str, fn: Callable, tasks: list, rows: list[int]) -> list:
        """``fn(task)`` for every task; results in task order.

        ``progress(stage, 0, 0)`` says the stage starts; then each task, as it ends,
        reports its piece and rows.
        """
        results: list = [None] * len(tasks)
        self.progress(stage, 0, 0)
        if self.runs_here(len(tasks)):
            for i, task in enumerate(tasks):
                results[i] = fn(task)
                self.progress(stage, 1, rows[i])
            return results
        from joblib import Parallel, delayed, parallel_config

        jobs = (delayed(_indexed)(fn, i, task) for i, task in enumerate(tasks))
        if self.backend == "dask":
            with parallel_config(backend="dask"):
                done = Parallel(n_jobs=-1, return_as="generator_unordered")(jobs)
                for i, value in done:
                    results[i] = value
                    self.progress(stage, 1, rows[i])
            return results
        # Each process gets its share of the cores for Polars and the classifier
        # (joblib limits the classifier's OpenMP threads the same way).
        share = str(max(1, (os.cpu_count() or 1) // min(self.workers, len(tasks))))
        previous = os.environ.get("POLARS_MAX_THREADS")
        os.environ["POLARS_MAX_THREADS"] = share
        try:
            with warnings.catch_warnings():
                # loky replaces a worker whose memory after a piece exceeds its memory
                # after its first piece by 300 MB (the allocator keeps what a large
                # piece freed) and warns of a possible leak; no piece is lost, and an
                # operator should not be alarmed by it.
                warnings.filterwarnings("ignore", message="A worker stopped while some jobs")
                n_jobs = min(self.workers, len(tasks))
                done = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs)
                for i, value in done:
                    results[i] = value
                    self.progress(stage, 1, rows[i])
        finally:
            if previous is None:
                os.environ.pop("POLARS_MAX_THREADS", None)
            else:
                os.environ["POLARS_MAX_THREADS"] = previous
        return results


def _indexed(fn: Callable, i: int, task) -> tuple[int, object]:
    return i, fn(task)


def _dask_client(scheduler: str | None, workers: int):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise DetectorError(
            "--backend dask needs Dask: pip install 'customs-detector[dask]'."
        ) from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, ValueError, TypeError) as exc:
            # OSError: nothing answers; ValueError/TypeError: no address Dask can read
            # (an unknown protocol such as bogus://).
            raise DetectorError(
                f"Cannot reach the Dask scheduler at {scheduler} ({exc}); check the address "
                "(for example tcp://host:8786)."
            ) from None
        try:
            client.get_versions(check=True)
        except ValueError as exc:
            client.close()
            raise DetectorError(
                f"The Dask workers at {scheduler} run other package versions than this "
                f"machine ({str(exc).splitlines()[0]}); install the same versions there."
            ) from None
        return client
    # The workers' scratch space in a folder of the run's own, removed with the cluster:
    # by default Dask leaves one in the temporary folder.
    import dask

    scratch = tempfile.mkdtemp(prefix=f"detector-{owner_tag()}dask.")
    try:
        with dask.config.set({"temporary-directory": scratch}):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                local_directory=scratch,
            )
        try:
            client = Client(cluster)
        except BaseException:
            cluster.close()
            raise
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    client._detector_cluster, client._detector_scratch = cluster, scratch
    return client


# ---------------------------------------------------------------------------- the passes


@dataclass
class WorkStore:
    """Where a pass leaves a piece's tables for the next: Parquet files in the work
    folder, or, for a batch of one piece scored in this process, memory.

    In memory nothing is written that the next pass can take as it is; the batch-wide
    tables of a batch of one piece are its own, computed where its features are.
    """

    folder: str
    #: The tables held in this process (None: every pass reads and writes files).
    memory: dict[str, pl.DataFrame] | None = None

    @property
    def in_memory(self) -> bool:
        return self.memory is not None

    def put(self, kind: str, piece: int, table: pl.DataFrame) -> None:
        if self.memory is not None:
            self.memory[kind] = table
        else:
            table.write_parquet(Path(self.folder) / kind / f"{piece}.parquet")

    def get(self, kind: str, piece: int) -> pl.DataFrame | None:
        """A table left by an earlier pass; None where none was kept."""
        if self.memory is not None:
            return self.memory.get(kind)
        path = Path(self.folder) / kind / f"{piece}.parquet"
        return pl.read_parquet(path) if path.exists() else None

    def drop(self, *kinds: str) -> None:
        """Free tables no later pass reads (files stay until the work folder goes)."""
        for kind in kinds:
            if self.memory is not None:
                self.memory.pop(kind, None)


@dataclass
class Job:
    """What every piece's work needs; sent to the workers with the piece."""

    store: WorkStore
    profile: Profile
    expected_currency: str | None
    model: FraudModel | None = None
    duplicates: pl.Series | None = None
    keep_scored: bool = False
    #: The score pass only screens; the candidates are rescored (a capacity was given).
    screen: bool = False

    @property
    def work(self) -> Path:
        return Path(self.store.folder)


def _options(job: Job, piece: Piece) -> dict:
    names = ", ".join(dict.fromkeys(p.source or p.path for p in piece.parts))
    return {"source": f"Input {names}", "expected_currency": job.expected_currency}


def _canonical(job: Job, piece: Piece, duplicates: pl.Series | None) -> Canonical:
    return canonicalise(piece.scan(), job.profile, duplicates=duplicates, **_options(job, piece))


def _read_piece(args: tuple[Job, Piece]) -> dict:
    """Map and validate one piece; write its accepted rows, rejects and day counts."""
    job, piece = args
    work = job.work
    dups = job.duplicates
    if dups is not None:
        lo, hi = piece.offset + 1, piece.offset + piece.rows
        dups = dups.filter((dups >= lo) & (dups <= hi))
    try:
        options = _options(job, piece)
        acc, rej, repairs = read_checked(piece.scan(), job.profile, duplicates=dups, **options)
    except pl.exceptions.PolarsError as exc:
        csv = next((p for p in piece.parts if p.kind == "csv"), None)
        if csv is None:
            raise
        raise DetectorError(read_failure(Path(csv.path), exc)) from None
    # Written even when empty: a rejects file always has its header.
    rej.write_parquet(work / "rejects" / f"{piece.index}.parquet")
    done = {"accepted": acc.height, "rejected": rej.height, "repairs": repairs}
    done["columns"] = acc.columns
    job.store.put("accepted", piece.index, acc)
    if job.store.in_memory:
        return done
    tables = job.model.features_.batch_tables(acc.lazy())
    plans = [(group, name, lf) for group, named in tables.items() for name, lf in named.items()]
    for (group, name, _), table in zip(plans, pl.collect_all([p[2] for p in plans]), strict=True):
        folder = work / "batch" / group / name
        folder.mkdir(parents=True, exist_ok=True)
        table.write_parquet(folder / f"{piece.index}.parquet")
    return done


def _batch(work: Path) -> dict[str, dict[str, pl.LazyFrame]]:
    """The whole batch's batch-wide tables, as merged after the read pass."""
    folder = work / "batch"
    return {
        group.name: {p.stem: pl.scan_parquet(p) for p in sorted(group.glob("*.parquet"))}
        for group in sorted(folder.iterdir())
    }


def _merge_batch_tables(work: Path, model, n_pieces: int) -> None:
    """Add up the pieces' batch tables (one streaming aggregation per table)."""
    folder = work / "batch"
    parts = {
        group.name: {
            name.name: pl.scan_parquet(name / "*.parquet")
            for name in sorted(group.iterdir())
            if name.is_dir()
        }
        for group in sorted(folder.iterdir())
    }
    merged = model.features_.merge_batch_tables(parts) if n_pieces > 1 else parts
    for group, named in merged.items():
        for name, lf in named.items():
            lf.sink_parquet(folder / group / f"{name}.parquet", engine="streaming")


def _score_piece(args: tuple[Job, Piece]) -> dict:
    """Features and scores of one piece; the narrow scores, drift counts and peers."""
    job, piece = args
    work, model = job.work, job.model
    accepted = job.store.get("accepted", piece.index)
    batch = None if job.store.in_memory else _batch(work)
    job.store.drop("accepted")
    if accepted.height == 0:
        return {"rows": 0, "drift": None}
    features = model.transform(accepted, batch)
    table = model.screen(features) if job.screen else model.score(features)
    del features
    _narrow(table, piece.index, pl.int_range(pl.len(), dtype=pl.UInt32)).write_parquet(
        work / "narrow" / f"{piece.index}.parquet"
    )
    table.select("hs_code", "country_origin", "unit_value_per_ton").write_parquet(
        work / "peers" / f"{piece.index}.parquet"
    )
    if job.store.in_memory or job.keep_scored:
        job.store.put("scored", piece.index, table)
    return {"rows": table.height, "drift": drift_counts(model.drift_, table)}


_TIE_SEED = 11


def _narrow(table: pl.DataFrame, piece: int, row) -> pl.DataFrame:
    """What the global order needs of scored rows: where they are, score, tie-breaker."""
    return table.select(
        pl.lit(piece, pl.UInt32).alias("__piece"),
        pl.lit(row).alias("__row") if isinstance(row, pl.Series) else row.alias("__row"),
        "rank_score",
        pl.col("declaration_id").hash(_TIE_SEED).alias("__h"),
        # what the exploration of the selection policy reads
        "novelty",
        segment_of(table).alias("__seg"),
        mechanism_of(table),
    )


def _scored_rows(job: Job, piece: Piece, rows: pl.Series) -> pl.DataFrame:
    """Rows of one piece (by position), fully scored: from the rows held in memory or
    their features computed again (the batch-wide tables make them the same)."""
    work, model = job.work, job.model
    if job.store.in_memory:
        held = job.store.get("scored", piece.index)
        rescored = job.store.get("rescored_rows", piece.index)
        if not job.screen:
            return held[rows]
        if rescored is None:
            return model.score(held[rows])
        # Rows the rescore pass scored are taken from it; the others (exploration
        # picks from below the candidates) are scored now.
        at = pl.DataFrame({"__row": rows}).join(
            rescored.select("__row", pl.int_range(pl.len()).alias("__at")), on="__row", how="left"
        )["__at"]
        found = at.is_not_null()
        table = rescored.drop("__row")
        if found.all():
            return table[at]
        scored = model.score(held[rows.filter(~found)])
        where = pl.int_range(rows.len(), eager=True)
        return (
            pl.concat(
                [
                    table[at.filter(found)].with_columns(where.filter(found).alias("__order")),
                    scored.with_columns(where.filter(~found).alias("__order")),
                ],
                how="diagonal_relaxed",
            )
            .sort("__order")
            .drop("__order")
        )
    if job.keep_scored:
        return job.store.get("scored", piece.index)[rows]
    accepted = job.store.get("accepted", piece.index)
    return model.score(model.transform(accepted[rows], _batch(work)))


def _rescore_piece(args: tuple[Job, Piece]) -> dict:
    """The whole classifier's scores of one piece's candidates (narrow, as pass 4's)."""
    job, piece = args
    work = job.work
    rows = pl.read_parquet(work / "candidates" / f"{piece.index}.parquet")["__row"]
    table = _scored_rows(job, piece, rows)
    _narrow(table, piece.index, rows).write_parquet(work / "rescored" / f"{piece.index}.parquet")
    if job.store.in_memory:
        # The explain pass takes the listed rows' scores from here.
        job.store.put("rescored_rows", piece.index, table.with_columns(rows.alias("__row")))
    return {"rows": rows.len()}


def _explain_piece(args: tuple[Job, Piece]) -> dict:
    """Reasons for the listed rows of one piece, written with their rank and selection."""
    job, piece = args
    work, model = job.work, job.model
    listed = pl.read_parquet(work / "listed" / f"{piece.index}.parquet")
    table = _scored_rows(job, piece, listed["__row"])
    job.store.drop("scored", "rescored_rows")
    table = table.with_columns(listed["rank"], listed["selection"])
    explain = listed["explain"].to_numpy()
    found = explain_rows(model, table.filter(pl.Series(explain)))
    # The explained rows get their codes; the others (no capacity given) none.
    codes, detectors = [None] * table.height, [None] * table.height
    picked = (listed["selection"] == "exploration").to_list()
    for j, i in enumerate(np.flatnonzero(explain)):
        codes[i], detectors[i] = found["reason_codes"][j].to_list(), found["novelty_detector"][j]
        # A random pick says so first: its score is not why it is on the list.
        codes[i] = ["EXPLORATION", *codes[i]] if picked[i] else codes[i]
    at = pl.Series(np.flatnonzero(explain))
    evidence = found.drop("reason_codes", "novelty_detector")
    blank = evidence.clear(table.height)  # the evidence of the explained rows, in place
    table = table.with_columns(
        pl.Series("reason_codes", codes, pl.List(pl.String)),
        pl.Series("novelty_detector", detectors, pl.String),
        *(blank[c].scatter(at, evidence[c]) for c in evidence.columns),
    )
    table.sort("rank").write_parquet(work / "out" / f"{piece.index}.parquet")
    return {"rows": table.height}


# ---------------------------------------------------------------------------- the job


@dataclass
class Scored:
    """What :func:`score_pieces` leaves: the listed rows and what the report needs."""

    listed: pl.DataFrame | None
    out_parts: list[Path]
    rejects: pl.DataFrame
    n_read: int
    n_scored: int
    #: The accepted rows' columns (the input's own, canonical ones first).
    columns: list[str]
    repairs: dict[str, int]
    notes: list[str]
    drift: list[dict]
    peers: pl.LazyFrame | None
    k: int | None
    work: tempfile.TemporaryDirectory
    #: Seconds per step (plan, ids, read, merge, score, rescore, select, explain).
    timings: dict[str, float] = field(default_factory=dict)


def score_pieces(
    paths,
    model,
    profile,
    *,
    expected_currency: str | None,
    top: Callable[[int], int | None],
    runner: Runner,
    piece_rows: int = PIECE_ROWS,
    exploration: pl.DataFrame | None = None,
) -> Scored:
    """Passes 1 to 7 of the module docstring; ``top(n)`` sizes the list for n rows;
    ``exploration``: a label store's exploration record, for the selection."""
    # A writer still at work after a failure must not turn a clear error into a failed
    # clean-up: what it leaves is removed with the folder, or left in the system's
    # temporary folder, never in the user's.
    holder = tempfile.TemporaryDirectory(
        prefix=f"detector-{owner_tag()}", ignore_cleanup_errors=True
    )
    work = Path(holder.name)
    for sub in (
        "accepted",
        "rejects",
        "batch",
        "narrow",
        "peers",
        "scored",
        "candidates",
        "rescored",
        "listed",
        "out",
    ):
        (work / sub).mkdir()
    clock = _Clock()
    plan = plan_pieces(paths, work, piece_rows)
    clock("plan")
    pieces = plan.pieces
    held = {} if len(pieces) == 1 and runner.runs_here(1) else None
    job = Job(WorkStore(str(work), held), profile, expected_currency)

    try:
        # One piece finds its repeated ids itself; several need the whole batch's.
        if len(pieces) > 1:
            job.duplicates = duplicate_rows([_canonical(job, p, None) for p in pieces])
    except pl.exceptions.PolarsError as exc:
        raise DetectorError(
            f"Input {plan.names} cannot be read: {cut_runs(str(exc).splitlines()[0])}."
        ) from None
    clock("ids")
    job.model = model
    try:
        return _passes(job, plan, runner, top, clock, holder, exploration)
    finally:
        job.store.drop("accepted", "scored", "rescored_rows")


def _passes(job: Job, plan: Plan, runner: Runner, top, clock, holder, exploration) -> Scored:
    """Read, merge, score, select and explain: see the module docstring."""
    work, model = job.work, job.model
    pieces, rows = plan.pieces, [p.rows for p in plan.pieces]
    read = runner.map("read", _read_piece, [(job, p) for p in pieces], rows)
    clock("read")
    result = _read_totals(read, work, plan, holder, clock)
    check_clashes(model.clashing_columns(result.columns), f"Input {plan.names}")
    check_missing_features(
        model.missing_features(result.columns), f"Input {plan.names}", job.profile
    )
    n_scored = result.n_scored
    if n_scored == 0:
        return result

    if not job.store.in_memory:
        _merge_batch_tables(work, model, len(pieces))
    clock("merge")

    k = top(n_scored)
    job.keep_scored = k is None
    candidates = None if k is None else model.candidates(k, n_scored)
    job.screen = candidates is not None
    scored = runner.map("score", _score_piece, [(job, p) for p in pieces], rows)
    result.drift = [s["drift"] for s in scored if s["drift"] is not None]
    result.peers = pl.scan_parquet(work / "peers" / "*.parquet")
    clock("score")

    # One global order: by score, ties by a hash of the id (the same however cut).
    narrow = _global_order(work / "narrow")
    if candidates is not None:
        holding = _by_piece(narrow.head(candidates), work / "candidates", pieces)
        runner.map(
            "rescore", _rescore_piece, [(job, p) for p, _ in holding], [n for _, n in holding]
        )
        # The candidates in the whole classifier's order, then the rest (only the
        # exploration picks come from there, at random).
        narrow = pl.concat([_global_order(work / "rescored"), narrow.slice(candidates)])
        clock("rescore")
    k = None if k is None else min(k, narrow.height)
    listed = model.select(narrow, k, exploration)
    holding = _by_piece(listed, work / "listed", pieces)
    del narrow, listed
    clock("select")
    # Counted in listed rows: what the explain pass works on.
    runner.map("explain", _explain_piece, [(job, p) for p, _ in holding], [n for _, n in holding])
    result.out_parts = sorted(work.glob("out/*.parquet"), key=lambda p: int(p.stem))
    result.k = k
    if k is not None:
        result.listed = pl.concat(
            [pl.read_parquet(p) for p in result.out_parts], how="diagonal_relaxed"
        ).sort("rank")
    clock("explain")
    return result


def _read_totals(read: list[dict], work: Path, plan: Plan, holder, clock) -> "Scored":
    """What the read pass found over all pieces: counts, repairs, rejects, columns."""
    repairs: dict[str, int] = {}
    for r in read:
        for what, n in r["repairs"].items():
            repairs[what] = repairs.get(what, 0) + n
    parts = sorted((work / "rejects").glob("*.parquet"))
    rejects = (
        pl.concat([pl.read_parquet(p) for p in parts], how="diagonal_relaxed").sort(INPUT_ROW)
        if parts
        else pl.DataFrame()
    )
    return Scored(
        listed=None,
        out_parts=[],
        rejects=rejects,
        n_read=sum(r["accepted"] + r["rejected"] for r in read),
        n_scored=sum(r["accepted"] for r in read),
        columns=list(dict.fromkeys(c for r in read for c in r["columns"])),
        repairs={k: v for k, v in repairs.items() if v},
        notes=plan.notes,
        drift=[],
        peers=None,
        k=None,
        work=holder,
        timings=clock.laps,
    )


def _global_order(folder: Path) -> pl.DataFrame:
    """Narrow tables of scored rows, most suspicious first, ties by the id's hash."""
    return (
        pl.scan_parquet(folder / "*.parquet")
        .sort(["rank_score", "__h"], descending=[True, False])
        .select("__piece", "__row", "__h", "novelty", "__seg", "__mech")
        .collect()
    )


def _by_piece(rows: pl.DataFrame, folder: Path, pieces: list[Piece]) -> list[tuple[Piece, int]]:
    """Write each piece's share of ``rows`` (in row order); the pieces holding any,
    with how many."""
    holding = []
    for (index,), part in rows.partition_by("__piece", as_dict=True).items():
        part.sort("__row").drop("__piece").write_parquet(folder / f"{index}.parquet")
        holding.append((pieces[index], part.height))
    return sorted(holding, key=lambda h: h[0].index)


class _Clock:
    """Seconds spent in each step, for the operator's log and the benchmarks."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self.laps[step] = round(now - self._last, 3)
        self._last = now


def ranked_chunks(parts: list[Path], n: int, chunk: int = PIECE_ROWS) -> list[pl.LazyFrame]:
    """The rows of the ranked parts in global rank order, ``chunk`` ranks at a time."""
    scan = pl.concat([pl.scan_parquet(p) for p in parts], how="diagonal_relaxed")
    return [
        scan.filter(pl.col("rank").is_between(first, first + chunk - 1)).sort("rank")
        for first in range(1, n + 1, chunk)
    ]
