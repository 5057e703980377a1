"""Text built from columns: ``pl.format`` without its failure on pieced strings.

``pl.format`` can panic (Polars 2.1, "assertion failed: i < self.len()") on a text
column held in several chunks once the rows are filtered, which is what a collected
scan gives; concatenation does the same job safely.
"""

import polars as pl

__all__ = ["format_text"]


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
