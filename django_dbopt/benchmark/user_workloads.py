"""A project's own workloads: a function, a queryset expression, or a URL of its site.

Given on the command line (``--function``, ``--queryset``, ``--url``, each repeatable) or
in ``DBOPT['BENCHMARK']['WORKLOADS']`` as ``"function:dotted.path"``,
``"queryset:<expression>"`` or ``"url:/path/"``. These run on the project's own data,
as the project's code does; the built-in workloads never do.

- A function is imported with ``import_string`` and called with no arguments, like a
  request: in a monitor scope (its N+1s are reported) and a routing scope.
- A queryset expression is Python, evaluated once with ``M("app_label.Model")`` (the
  model class), ``Q``, ``F``, ``Count``, ``Sum``, ``Avg``, ``Min``, ``Max`` and
  ``Prefetch`` in scope; each operation evaluates a fresh copy (``list(qs.all())``).
  It is code you type, run with your permissions, like ``manage.py shell -c``.
- A URL is requested with ``GET`` through Django's test client (middleware, views and
  templates included, no network); a 4xx/5xx answer or an exception counts as an error.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Avg, Count, F, Max, Min, Prefetch, Q, QuerySet, Sum
from django.utils.module_loading import import_string

from django_dbopt.benchmark.load import Worker
from django_dbopt.benchmark.scratch import BenchmarkError
from django_dbopt.benchmark.workloads import Workload, in_scope

KINDS = ("function", "queryset", "url")


def parse(spec: str) -> tuple[str, str]:
    kind, _, value = spec.partition(":")
    if kind not in KINDS or not value.strip():
        raise BenchmarkError(
            f"workload {spec!r}: expected 'function:<dotted path>', 'queryset:<expression>' "
            "or 'url:<path>'"
        )
    return kind, value.strip()


def function_workload(path: str) -> Workload:
    try:
        fn = import_string(path)
    except ImportError as e:
        raise BenchmarkError(f"--function {path!r}: {e}") from e
    if not callable(fn):
        raise BenchmarkError(f"--function {path!r} is not callable")

    def op(worker: Worker) -> None:
        with in_scope(f"function:{path}"):
            fn()

    return Workload(f"function:{path}", f"{path}()", op, spec={"function": path})


def _model(label: str) -> Any:
    try:
        return apps.get_model(label)
    except (LookupError, ValueError) as e:
        raise BenchmarkError(f"M({label!r}): no such model") from e


def queryset_workload(expression: str) -> Workload:
    namespace = {
        "M": _model,
        **{f.__name__: f for f in (Q, F, Count, Sum, Avg, Min, Max, Prefetch)},
    }
    try:
        # The operator's own expression, like `manage.py shell -c` (see module docstring).
        qs = eval(expression, {"__builtins__": {}}, namespace)  # noqa: S307
    except (SyntaxError, NameError, AttributeError, TypeError, ValueError) as e:
        raise BenchmarkError(f"--queryset {expression!r}: {e}") from e
    if not isinstance(qs, QuerySet):
        raise BenchmarkError(f"--queryset {expression!r} is a {type(qs).__name__}, not a QuerySet")

    short = expression if len(expression) <= 60 else expression[:57] + "..."

    def op(worker: Worker) -> None:
        with in_scope(f"queryset:{short}"):
            list(qs.all())

    return Workload(f"queryset:{short}", expression, op, spec={"queryset": expression})


def url_workload(path: str) -> Workload:
    if not path.startswith("/"):
        raise BenchmarkError(f"--url {path!r}: give a path starting with '/'")

    def setup(worker: Worker) -> None:
        from django.test import Client

        worker.data["client"] = Client()

    def op(worker: Worker) -> None:
        response = worker.data["client"].get(path)
        if response.status_code >= 400:
            raise BenchmarkError(f"GET {path} answered {response.status_code}")

    return Workload(
        f"url:{path}", f"GET {path} through the test client", op, setup=setup, spec={"url": path}
    )


def user_workload(spec: str) -> Workload:
    kind, value = parse(spec)
    try:
        if kind == "function":
            return function_workload(value)
        if kind == "queryset":
            return queryset_workload(value)
        return url_workload(value)
    except ImproperlyConfigured as e:
        raise BenchmarkError(f"workload {spec!r}: {e}") from e
