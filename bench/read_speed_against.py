"""Reading and validating a CSV file with this code and with an earlier commit's, in turn.

    git worktree add /tmp/old COMMIT
    detector generate --rows 1000000 --seed 0 --out m1.csv
    python bench/read_speed_against.py /tmp/old m1.csv

Each side runs in its own process (the packages differ), three times, best time kept;
the two sides alternate twice, so that both see the machine in the same state.
"""

import subprocess
import sys

_ONE = """
import sys, time
sys.path.insert(0, sys.argv[1])
try:
    from detector.io.ingest import read_declarations
except ImportError:  # the layout before detector/io
    from detector.ingest import read_declarations
best = 9e9
for _ in range(3):
    start = time.perf_counter()
    batch = read_declarations(sys.argv[2])
    best = min(best, time.perf_counter() - start)
print(f"{sys.argv[1]}: {best:.2f} s for {batch.n_read:,} rows")
"""


def main() -> None:
    old, csv = sys.argv[1], sys.argv[2]
    here = str(__import__("pathlib").Path(__file__).resolve().parents[1])
    for _ in range(2):
        for side in (old, here):
            subprocess.run([sys.executable, "-c", _ONE, side, csv], check=True)


if __name__ == "__main__":
    main()
