"""Load presets: how hard and how long a run pushes.

``light`` is for a laptop or CI (seconds), ``medium`` for a staging server, ``heavy`` for
a capacity test. Every figure can be overridden on the command line. Five trials or more
per run: against one earlier run of five, the smallest one-sided Mann-Whitney p is
1/252, so a regression can be flagged after the first stored run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    concurrency: int
    duration_s: float
    warmup_s: float
    trials: int
    #: open-loop rate (operations per second) when ``--mode open`` gives none
    rate: float
    ab_rounds: int
    ab_duration_s: float
    #: scratch table size
    items: int
    authors: int


PRESETS = {
    "light": Preset("light", 2, 2.0, 0.5, 5, 100.0, 3, 0.5, 2000, 50),
    "medium": Preset("medium", 8, 10.0, 2.0, 10, 500.0, 5, 2.0, 10_000, 200),
    "heavy": Preset("heavy", 32, 30.0, 5.0, 10, 2000.0, 7, 5.0, 50_000, 1000),
}
