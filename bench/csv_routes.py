"""A CSV file's two routes into a batch, compared on hostile files: read as it is (the
batch's one piece) or first cut into Parquet pieces (a file larger than a piece). The
one-off trial behind reading a one-piece CSV file directly.

Usage: python bench/csv_routes.py [--random N] [--seed S]

A clean file of 2,500 synthetic declarations is spoilt in the named ways below and in
N random ways (quotes, separators, line ends, NUL and non-UTF-8 bytes inserted at
random); each file is planned and read by both routes (the cut one with pieces of
1,000 rows) and the two compared: the error sentence, or the notes, the count read
and the accepted and rejected rows. Printed: per named file the outcome and whether
the routes agree; the random files that differ; and any failure that is not a
``DetectorError`` (exit 1 on the command line).
"""

import argparse
import random
import tempfile
from pathlib import Path

import polars as pl

from detector.batch import stream
from detector.errors import DetectorError
from detector.io.ingest import INPUT_ROW, duplicate_rows
from detector.io.profiles import load_profile
from detector.synthetic import generate_declarations

PROFILE = load_profile("canonical")


def read_by(path: Path, piece_rows: int) -> dict:
    """What planning and reading ``path`` in pieces of ``piece_rows`` rows gives."""
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        (work / "rejects").mkdir()
        try:
            plan = stream.plan_pieces(path, work, piece_rows)
            job = stream.Job(stream.WorkStore(str(work), {}), PROFILE, "USD")
            if len(plan.pieces) > 1:
                try:
                    job.duplicates = duplicate_rows(
                        [stream._canonical(job, p, None) for p in plan.pieces]
                    )
                except pl.exceptions.PolarsError as exc:
                    raise DetectorError(f"cannot be read: {str(exc).splitlines()[0]}") from None
            accepted, n = [], 0
            for piece in plan.pieces:
                done = stream._read_piece((job, piece))
                accepted.append(job.store.get("accepted", piece.index))
                n += done["accepted"] + done["rejected"]
            rejects = pl.concat(
                [pl.read_parquet(p) for p in sorted((work / "rejects").glob("*.parquet"))],
                how="diagonal_relaxed",
            )
            kinds = {p.kind for piece in plan.pieces for p in piece.parts}
            return {
                "said": f"read {n:,} rows = {sum(a.height for a in accepted):,} accepted "
                f"+ {rejects.height:,} rejected ({', '.join(sorted(kinds))})",
                "notes": plan.notes,
                "accepted": _in_order(pl.concat(accepted, how="diagonal_relaxed")),
                "rejects": _in_order(rejects),
            }
        except DetectorError as exc:
            return {"said": f"exit 2: {str(exc).replace(str(path), 'FILE')}"}
        except Exception as exc:  # noqa: BLE001  what the command line would call unexpected
            return {"said": f"UNEXPECTED {type(exc).__name__}: {str(exc)[:200]}"}


def _in_order(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.sort(INPUT_ROW if INPUT_ROW in rows.columns else rows.columns)


def agree(a: dict, b: dict) -> bool:
    if "accepted" not in a or "accepted" not in b:
        return a["said"] == b["said"]
    return (
        a["notes"] == b["notes"]
        and a["said"].split(" (")[0] == b["said"].split(" (")[0]
        and a["accepted"].equals(b["accepted"])
        and a["rejects"].equals(b["rejects"])
    )


def named_files(base: bytes) -> dict[str, bytes]:
    header, *rows = base.rstrip(b"\n").split(b"\n")

    def file(lines: list[bytes], end: bytes = b"\n") -> bytes:
        return header + b"\n" + b"\n".join(lines) + end

    def edit(i: int, col: int, value: bytes, lines: list[bytes] | None = None) -> list[bytes]:
        lines = list(rows if lines is None else lines)
        cells = lines[i].split(b",")
        cells[col] = value
        lines[i] = b",".join(cells)
        return lines

    imp, office = (
        header.split(b",").index(b"importer_id"),
        header.split(b",").index(b"customs_office"),
    )
    far = edit(1800, office, b'SEA04"', edit(500, office, b'SEA04,"x'))
    long_then_wide = edit(1500, office, b"X" * 200_000)
    long_then_wide[2000] += b",EXTRA"
    return {
        "clean": base,
        "byte order mark": b"\xef\xbb\xbf" + base,
        "quote opened, never closed": file(edit(1500, imp, b'"IM00028')),
        "quote inside a cell": file(edit(1500, imp, b'IM0"0028')),
        "quote closed three lines later": file(
            edit(1503, office, b'SEA04"', edit(1500, imp, b'"IM00028'))
        ),
        "a row with one field more": file(rows[:1500] + [rows[1500] + b",EXTRA"] + rows[1501:]),
        "a row with fields missing": file(
            rows[:1500] + [b",".join(rows[1500].split(b",")[:10])] + rows[1501:]
        ),
        "windows line ends": base.replace(b"\n", b"\r\n"),
        "semicolons": base.replace(b",", b";"),
        "latin-1 cells": file(edit(1500, imp, b"IM\xe90028")),
        "NUL in a cell": file(edit(1500, imp, b"IM\x000028")),
        "blank lines": file(rows[:1500] + [b"", b"   "] + rows[1500:]),
        "duplicated header name": file(rows).replace(b"customs_office", b"importer_id", 1),
        "a 5 MB cell": file(edit(1500, office, b"X" * 5_000_000)),
        "no final line end": base.rstrip(b"\n"),
        "quote on the last line, never closed": file(edit(len(rows) - 1, imp, b'"IM00028')),
        "latin-1 header name": file(rows).replace(b"customs_office", b"customs_o\xeffice", 1),
        "a quote that runs on makes a row too wide": file(far),
        "a cell over 128 KB, then a row too wide": file(long_then_wide),
        "header only": header + b"\n",
    }


def spoilt(base: bytes, rng: random.Random) -> bytes:
    tokens = [b'"', b'"', b",", b"\r", b"\n", b"\x00", b'""', b' "', b"\xff", b";", b"\t"]
    data = bytearray(base)
    for _ in range(rng.choice([1, 1, 2, 3])):
        at = rng.randrange(len(base) // 5, len(data))
        data[at:at] = rng.choice(tokens)
    return bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--random", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    year = generate_declarations(rows=20_000, seed=1).head(2_500)
    base = year.drop([c for c in year.columns if c.startswith("true_")]).write_csv().encode()
    unexpected = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "declarations.csv"
        for name, content in named_files(base).items():
            path.write_bytes(content)
            a, b = read_by(path, 1_000_000), read_by(path, 1_000)
            unexpected += a["said"].startswith("UNEXPECTED") + b["said"].startswith("UNEXPECTED")
            print(f"{name}: {'same' if agree(a, b) else 'DIFFERENT'}; {a['said'][:160]}")
        rng, differ = random.Random(args.seed), 0
        for i in range(args.random):
            path.write_bytes(spoilt(base, rng))
            a, b = read_by(path, 1_000_000), read_by(path, 1_000)
            unexpected += a["said"].startswith("UNEXPECTED") + b["said"].startswith("UNEXPECTED")
            if not agree(a, b):
                differ += 1
                print(f"random {i}: direct {a['said'][:120]} | cut {b['said'][:120]}")
    print(f"{args.random} random files: {differ} read differently by the two routes")
    print(f"failures other than a DetectorError, both routes, all files: {unexpected}")


if __name__ == "__main__":
    main()
