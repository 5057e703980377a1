"""Turning a Polars feature table into the matrix the classifier reads."""

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["FrameEncoder"]


class FrameEncoder(TransformerMixin, BaseEstimator):
    """Numeric columns as float32, categorical columns as codes of their frequent values.

    Each categorical column keeps its ``max_categories - 1`` most frequent values of
    the training data; the rest share one code, and a missing value stays missing (the
    gradient-boosting classifier has a branch for it). The output's categorical columns
    come last, so that the classifier can be told which they are.
    """

    def __init__(self, *, numeric=(), categorical=(), max_categories=250):
        self.numeric = numeric
        self.categorical = categorical
        self.max_categories = max_categories

    def fit(self, X: pl.DataFrame, y=None):
        self.categories_ = {}
        for name in self.categorical:
            counts = (
                X.select(pl.col(name).cast(pl.String))
                .drop_nulls()
                .group_by(name)
                .len()
                .sort(["len", name], descending=[True, False])
            )
            self.categories_[name] = counts[name].head(self.max_categories - 1).to_list()
        # A column with no value at all in training (a layout without supplementary
        # units, say) is read as a constant: it can only ever be uninformative.
        empty = (
            X.select(
                pl.col(n).cast(pl.Float64).fill_nan(None).is_null().all() for n in self.numeric
            ).row(0)
            if self.numeric
            else ()
        )
        self.empty_ = tuple(n for n, e in zip(self.numeric, empty, strict=True) if e)
        self.n_features_in_ = len(self.numeric) + len(self.categorical)
        return self

    def transform(self, X: pl.DataFrame) -> np.ndarray:
        other = float(self.max_categories - 1)
        exprs = [
            pl.lit(0.0, pl.Float32).alias(n) if n in self.empty_ else pl.col(n).cast(pl.Float32)
            for n in self.numeric
        ]
        for name in self.categorical:
            codes = {v: float(i) for i, v in enumerate(self.categories_[name])}
            col = pl.col(name).cast(pl.String)
            exprs.append(
                pl.when(col.is_null())
                .then(None)
                .otherwise(col.replace_strict(codes, default=other, return_dtype=pl.Float32))
                .alias(name)
            )
        # Writable: Polars may hand over its own memory, and infinities are clipped in it.
        matrix = X.select(exprs).to_numpy(order="fortran", writable=True)
        matrix = matrix.astype(np.float32, copy=False)
        # Infinite values (a log of 0) carry no more than "extreme": clip them.
        infinite = np.isinf(matrix)
        if infinite.any():
            matrix[infinite] = np.copysign(np.float32(1e30), matrix[infinite])
        return matrix

    def categorical_mask(self) -> np.ndarray:
        return np.array([False] * len(self.numeric) + [True] * len(self.categorical))
