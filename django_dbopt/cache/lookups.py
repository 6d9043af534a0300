"""Whether looking in L2 after an L1 miss pays, measured per plan in this process.

When the generations are known locally (an L1 lease), an L1 miss can go to L2 (one
round trip) or straight to the database. Looking first saves the database time when L2
has the entry and costs the round trip when it does not, so it pays when
``hit ratio x database time >= round trip``. All three are measured here (moving
averages). While looking does not pay, a miss every ``PROBE_EVERY_S`` *probes*: its
lookup is sent before the database query and its reply read after it, so it costs no
latency and tells whether L2 had the entry; a change (another process starting to fill
L2) is noticed that way. Once a second a miss looks anyway, to measure the round trip
again (a slow moment must not switch lookups off for good; a round trip that got faster
is believed at once, one that got slower only gradually). A skipped lookup never makes a
read wrong: the database is the source of truth, and the result is still stored.
"""

from __future__ import annotations

import time

ALPHA = 0.1
#: at most one probe per set of tables this often (a probe costs the request no wait,
#: but sending and reading it is not free)
PROBE_EVERY_S = 0.05
#: while skipping, one miss looks (waiting for the reply) this often, to re-measure
REMEASURE_EVERY_S = 1.0
LOOK, PROBE, SKIP = "look", "probe", "skip"


class Lookups:
    __slots__ = ("_last_look", "_last_probe", "hit", "round_trip", "work")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget what was measured (L1 was dropped: L2 likely holds what it misses)."""
        self.hit = 1.0  # optimistic until measured: look
        self.round_trip = 0.0
        self.work = 0.0
        self._last_probe = 0.0
        self._last_look = 0.0

    def decide(self) -> str:
        """``LOOK`` (in L2 first), ``PROBE`` (in L2 alongside the database) or ``SKIP``."""
        now = time.monotonic()
        if (
            not self.work
            or self.hit * self.work >= self.round_trip
            or now - self._last_look >= REMEASURE_EVERY_S
        ):
            self._last_look = now
            return LOOK
        if now - self._last_probe >= PROBE_EVERY_S:
            self._last_probe = now
            return PROBE
        return SKIP

    def looked(self, *, hit: bool, seconds: float | None = None) -> None:
        """A lookup's outcome; ``seconds``: its round trip, when it was waited for (not
        for a probe). A probe that finds the entry puts looking back on at once; the
        lookups that follow measure again whether it pays."""
        if hit and seconds is None:
            self.hit = 1.0
            return
        self.hit += ALPHA * ((1.0 if hit else 0.0) - self.hit)
        if seconds is not None:
            self.round_trip = _moved(self.round_trip, seconds)

    def computed(self, seconds: float) -> None:
        self.work = _moved(self.work, seconds)


def _moved(average: float, sample: float) -> float:
    """A moving average that believes a lower sample at once and a higher one slowly."""
    if not average or sample < average:
        return sample if not average else average + 0.5 * (sample - average)
    return average + ALPHA * (sample - average)
