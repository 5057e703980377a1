"""How long `detector generate` takes for 1 million rows, end to end, as a user runs it.

Usage: python bench/generate_speed.py [--rows N] [--repeat K]
Runs the CLI in a fresh process (imports and writing count), K times, and prints the
wall time of each run and the rows per second. Results go to bench/RESULTS.md by hand.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".parquet", ".csv"):
            out = Path(tmp) / f"x{suffix}"
            for i in range(args.repeat):
                t0 = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "detector",
                        "generate",
                        "--rows",
                        str(args.rows),
                        "--seed",
                        "1",
                        "--out",
                        str(out),
                    ],
                    check=True,
                    capture_output=True,
                )
                dt = time.perf_counter() - t0
                print(
                    f"generate {args.rows:,} rows -> {suffix:8} run {i + 1}: {dt:6.2f} s "
                    f"({args.rows / dt:,.0f} rows/s, {out.stat().st_size / 1e6:.0f} MB)"
                )


if __name__ == "__main__":
    main()
