"""``dbopt_benchmark``: what each part of django-dbopt buys a project, with honest percentiles.

``run_benchmark(Options(...))`` runs workloads (``workloads.py``, ``cache_workloads.py``,
``replica_workloads.py``, ``user_workloads.py``) under a load pattern (``load.py``),
A/B-tests the parts (``ab.py``), grades the results (``grades.py``), compares them with
stored runs (``history.py``) and returns the report as plain data (``schema.py``).
The management command is a thin wrapper; see docs/benchmark.md.
"""

from __future__ import annotations
