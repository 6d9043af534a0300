"""Findings read from an EXPLAIN (FORMAT JSON) plan.

- ``seq_scan``: a sequential scan of a table with at least ``LARGE_TABLE_ROWS`` rows;
- ``misestimate`` (ANALYZE only): actual rows 10x off the planner's estimate, >= 100 rows;
- ``sort_on_disk`` (ANALYZE only): a sort that spilled to disk;
- ``nested_loop``: a nested loop whose outer side yields >= 1000 rows (actual when
  analyzed, else estimated).
"""

from __future__ import annotations

from typing import Any

from django_dbopt.conf import get_config
from django_dbopt.monitor.explain import Explained, plan_nodes, table_rows

MISESTIMATE_FACTOR = 10
MISESTIMATE_MIN_ROWS = 100
NESTED_LOOP_ROWS = 1000


def _rows(node: dict[str, Any], analyzed: bool) -> float:
    if analyzed and "Actual Rows" in node:
        return float(node["Actual Rows"]) * float(node.get("Actual Loops", 1))
    return float(node.get("Plan Rows", 0))


def findings(explained: Explained, using: str) -> list[dict[str, Any]]:
    nodes = plan_nodes(explained.plan["Plan"])
    large = get_config().monitor.large_table_rows
    scanned = {n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"}
    sizes = table_rows(using, scanned)
    out: list[dict[str, Any]] = []
    for node in nodes:
        kind = node["Node Type"]
        if kind == "Seq Scan" and sizes.get(node["Relation Name"], 0) >= large:
            out.append(
                {
                    "kind": "seq_scan",
                    "table": node["Relation Name"],
                    "table_rows": sizes[node["Relation Name"]],
                    "filter": node.get("Filter"),
                    "message": f"sequential scan of {node['Relation Name']} "
                    f"({sizes[node['Relation Name']]} rows)",
                }
            )
        if explained.analyzed and "Actual Rows" in node:
            planned = float(node["Plan Rows"])
            actual = float(node["Actual Rows"])
            high, low = max(planned, actual), max(min(planned, actual), 1.0)
            if high >= MISESTIMATE_MIN_ROWS and high / low >= MISESTIMATE_FACTOR:
                out.append(
                    {
                        "kind": "misestimate",
                        "node": kind,
                        "plan_rows": planned,
                        "actual_rows": actual,
                        "message": f"{kind}: planned {planned:.0f} rows, got {actual:.0f}",
                    }
                )
        if node.get("Sort Space Type") == "Disk":
            out.append(
                {
                    "kind": "sort_on_disk",
                    "sort_key": node.get("Sort Key"),
                    "space_kb": node.get("Sort Space Used"),
                    "message": f"sort spilled {node.get('Sort Space Used')} kB to disk",
                }
            )
        if kind == "Nested Loop" and node.get("Plans"):
            outer = _rows(node["Plans"][0], explained.analyzed)
            if outer >= NESTED_LOOP_ROWS:
                out.append(
                    {
                        "kind": "nested_loop",
                        "outer_rows": outer,
                        "message": f"nested loop over {outer:.0f} outer rows",
                    }
                )
    return out
