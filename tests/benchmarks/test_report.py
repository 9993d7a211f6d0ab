"""benchmarks/report.py's figures that are computed, not just printed."""

from benchmarks import report


def test_alternating_rounds_are_compared_round_by_round():
    # A machine that slows down mid-run: each round's ratio still holds
    rounds = [(100.0, 50.0), (60.0, 20.0), (90.0, 30.0)]

    line = report.alternating_line(rounds)

    assert "ours 100, 60, 90; peer 50, 20, 30" in line
    assert "ours/peer median 3.00 (from 2.00 to 3.00)" in line
