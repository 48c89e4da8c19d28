"""Minute counts on the command line: a zero or negative interval is refused before anything starts."""

from __future__ import annotations

import pytest
from stockpulse.cli import build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ("maintain", "--every", "0"),
        ("maintain", "--every", "-5"),
        ("maintain", "--every", "soon"),
        ("bench", "--soak", "0"),
    ],
)
def test_a_minute_count_that_is_not_positive_is_a_usage_error(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    assert "minutes must be" in capsys.readouterr().err


def test_positive_minutes_are_taken_as_given() -> None:
    assert build_parser().parse_args(["maintain", "--every", "2.5"]).every == 2.5
    assert build_parser().parse_args(["bench", "--soak", "30"]).soak == 30.0
