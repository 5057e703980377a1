"""Where reading and validating a CSV of declarations spends its time, layer by layer.

The mapping (``detector.io.ingest``) computes its columns in layers: the cells as
stripped text, the parsed values, then one flag per check. Each layer is collected on
the previous one's table, and each of its expressions alone, to show whether one of
them is a sink (best of one run in one process: compare within the run).

    python bench/validation_layers.py --data DIR   (DIR/day.csv, as score_speed.py --keep leaves)
"""

import argparse
import time
from pathlib import Path

import detector.io.ingest as ingest
from detector.io.profiles import load_profile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    src = parser.parse_args().data / "day.csv"
    lf = ingest.scan_file(src, "csv", []).with_row_index(ingest.INPUT_ROW, offset=1)
    t0 = time.perf_counter()
    table = lf.collect()
    print(f"scan {time.perf_counter() - t0:.2f} s, {table.height:,} rows")
    m = ingest._Mapping(table.schema, load_profile("canonical"), None, {})
    for parse in ingest._PARSERS:
        parse(m)
    ingest._required(m)
    ingest._duplicates(m, None)
    for i, (bad, _) in enumerate(m.checks):
        m.cols.put(m.LAST, f"{ingest._BAD}{i}", bad.fill_null(False))
    for what, expr in m.repairs.items():
        m.cols.put(m.LAST, ingest.REPAIR_PREFIX + what, expr.fill_null(False))
    for number, layer in enumerate(m.cols.layers):
        if number == m.cols.VERDICT_LAYER and m.cols.verdicts:
            # The whole columns' verdicts (the style of their numbers), made once here.
            t0 = time.perf_counter()
            table = table.with_columns(*m.cols.verdicts.values())
            seconds = time.perf_counter() - t0
            print(f"verdicts: {len(m.cols.verdicts)} expressions, {seconds:.2f} s")
        before = table
        t0 = time.perf_counter()
        table = table.lazy().with_columns(*layer.values()).collect()
        print(f"layer {number}: {len(layer)} expressions, {time.perf_counter() - t0:.2f} s")
        alone = []
        for name, expr in layer.items():
            t0 = time.perf_counter()
            before.lazy().select(expr).collect()
            alone.append((time.perf_counter() - t0, name))
        for seconds, name in sorted(alone, reverse=True)[:5]:
            print(f"    {seconds:.3f} s  {name}")


if __name__ == "__main__":
    main()
