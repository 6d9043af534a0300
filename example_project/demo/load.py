"""Traffic for the demo: ``manage.py demo_load`` drives its pages over HTTP for a while,
from a few threads, so the monitor, the router, the cache and the pools have something
real to show on the admin overview (one minute is enough to draw trends).

Each worker picks the next page of a fixed mix (the login lookup, a user's dashboard,
security events, the task list with its N+1 and its fixed twin) with a random user or
e-mail, requests it with ``urllib`` and counts the answer.
"""

from __future__ import annotations

import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

PATHS = (
    "/",
    "/login-lookup/?email=user{n}@example.com",
    "/dashboard/",
    "/security-events/",
    "/security-events/?action=login&result=success",
    "/tasks/nplusone/",
    "/tasks/fixed/",
)


@dataclass
class LoadResult:
    requests: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def _worker(
    base: str, users: int, until: float, seed: int, result: LoadResult, lock: threading.Lock
) -> None:
    pick = random.Random(seed)
    while time.monotonic() < until:
        path = pick.choice(PATHS).format(n=pick.randint(1, max(users, 1)))
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(base + path, timeout=10) as response:  # noqa: S310
                response.read()
                status = str(response.status)
        except urllib.error.HTTPError as e:
            status = str(e.code)
        except (urllib.error.URLError, OSError) as e:
            status = type(e).__name__
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            result.requests += 1
            result.statuses[status] += 1
            result.latencies_ms.append(elapsed)


def run(base_url: str, seconds: float = 60.0, threads: int = 4, users: int = 50) -> LoadResult:
    """Drive ``base_url`` (the demo's root, e.g. ``http://127.0.0.1:8000``) for ``seconds``."""
    base = base_url.rstrip("/")
    parsed = urllib.parse.urlsplit(base)
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {base_url!r}")
    result, lock = LoadResult(), threading.Lock()
    started = time.monotonic()
    until = started + seconds
    workers = [
        threading.Thread(target=_worker, args=(base, users, until, n, result, lock), daemon=True)
        for n in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(seconds + 30)
    result.seconds = time.monotonic() - started
    return result
