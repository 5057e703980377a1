"""Scoring a batch a piece at a time: in this process, in a pool, or on a Dask cluster."""
