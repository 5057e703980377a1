"""The jobs' small pure parts (detector.app.pipeline)."""

import re

import pytest

from detector import DetectorError
from detector.app.pipeline import parse_top

TOPS = [
    (None, 1_000, None),
    ("500", 1_000, 500),
    ("5%", 1_000, 50),
    ("5 %", 1_000, 50),
    ("0.1%", 1_000, 1),  # at least one row
    ("2.5%", 999, 25),  # rounded up: capacity is never short
    ("100%", 7, 7),
]


@pytest.mark.parametrize(("text", "rows", "expected"), TOPS)
def test_top_as_a_number_of_rows(text, rows, expected):
    assert parse_top(text, rows) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0", "lists no declaration"),
        ("-5", "lists no declaration"),
        ("five", "is neither a number of declarations"),
        ("5%%", "is not a share of the batch"),
        ("0%", "is not a share of the batch"),
        ("200%", "is not a share of the batch"),
        ("1e3", "is not a whole number of declarations"),
        ("1.5", "is not a whole number of declarations"),
    ],
)
def test_a_top_that_is_no_capacity_is_refused_naming_it(text, why):
    with pytest.raises(DetectorError, match=f"--top '{re.escape(text)}' {why}"):
        parse_top(text, 1_000)
