"""Text built from columns: ``pl.format`` without its failure on pieced strings.

``pl.format`` can panic (Polars 2.1, "assertion failed: i < self.len()") on a text
column held in several chunks once the rows are filtered, which is what a collected
scan gives; concatenation does the same job safely.
"""

import numpy as np
import polars as pl

__all__ = ["format_text", "string_lists"]


def format_text(template: str, *args: pl.Expr | str) -> pl.Expr:
    """``template`` with each ``{}`` replaced by the next expression; null if any is.

    >>> pl.select(format_text("HS {} from {}", pl.lit("081060"), pl.lit("TH"))).item()
    'HS 081060 from TH'
    """
    pieces = template.split("{}")
    if len(pieces) != len(args) + 1:
        raise ValueError(f"template {template!r} has {len(pieces) - 1} places, not {len(args)}")
    exprs: list[pl.Expr] = []
    columns = [pl.col(a) if isinstance(a, str) else a for a in args]
    for text, arg in zip(pieces, [*columns, None], strict=True):
        if text:
            exprs.append(pl.lit(text))
        if arg is not None:
            exprs.append(arg.cast(pl.String))
    # Named like pl.format's result: after its first column.
    names = [e.meta.output_name(raise_if_undetermined=False) for e in columns]
    name = next((n for n in names if n and n != "literal"), None)
    out = pl.concat_str(exprs)
    return out.alias(name) if name else out


def string_lists(name: str, lists: list[list[str] | None]) -> pl.Series:
    """Python lists of strings (None for a missing list) as one ``List(String)`` column.

    Built from one flat column grouped back by row: ten times faster than letting Polars
    convert each row's list on its own, which counts when 50,000 listed declarations each
    carry their reasons.

    >>> string_lists("r", [["a", "b"], None, []]).to_list()
    [['a', 'b'], None, []]
    """
    n = len(lists)
    counts = np.fromiter((0 if x is None else len(x) for x in lists), dtype=np.int64, count=n)
    flat = pl.Series("s", [s for x in lists if x is not None for s in x], dtype=pl.String)
    grouped = (
        pl.DataFrame({"row": np.repeat(np.arange(n), counts), "s": flat})
        .group_by("row", maintain_order=True)
        .agg("s")
    )
    missing = np.fromiter((x is None for x in lists), dtype=bool, count=n)
    out = (
        pl.DataFrame({"row": np.arange(n), "missing": missing})
        .join(grouped, on="row", how="left", maintain_order="left")
        .select(
            pl.when(pl.col("missing"))
            .then(None)
            .otherwise(pl.col("s").fill_null(pl.lit([], dtype=pl.List(pl.String))))
            .alias(name)
        )
    )
    return out.to_series()
