"""Whether looking in L2 after an L1 miss pays, measured per plan in this process.

When the generations are known locally (an L1 lease), an L1 miss can go to L2 (one
round trip) or straight to the database. Looking first saves the database time when L2
has the entry and costs the round trip when it does not, so it pays when
``hit ratio x database time >= round trip``. All three are measured here (moving
averages); while looking does not pay, every ``PROBE_EVERY``-th miss still looks, so a
change (another process starting to fill L2) is noticed. A skipped lookup never makes a
read wrong: the database is the source of truth, and the result is still stored.
"""

from __future__ import annotations

ALPHA = 0.1
PROBE_EVERY = 8


class Lookups:
    __slots__ = ("_skipped", "hit", "round_trip", "work")

    def __init__(self) -> None:
        self.hit = 1.0  # optimistic until measured: look
        self.round_trip = 0.0
        self.work = 0.0
        self._skipped = 0

    def worth_it(self) -> bool:
        if not self.work or self.hit * self.work >= self.round_trip:
            return True
        self._skipped += 1
        if self._skipped >= PROBE_EVERY:
            self._skipped = 0
            return True
        return False

    def looked(self, hit: bool, seconds: float) -> None:
        self.hit += ALPHA * ((1.0 if hit else 0.0) - self.hit)
        self.round_trip = (
            seconds
            if not self.round_trip
            else self.round_trip + ALPHA * (seconds - self.round_trip)
        )

    def computed(self, seconds: float) -> None:
        self.work = seconds if not self.work else self.work + ALPHA * (seconds - self.work)
