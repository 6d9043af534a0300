"""An EXPLAIN (FORMAT JSON) plan as rows of a readable tree: node type, relation and
index, rows estimated against actual (when analyzed), cost, and the findings about that
node (``plan_findings``). Presentation only: nothing here runs a query."""

from __future__ import annotations

from typing import Any


def _node_findings(node: dict[str, Any], findings: list[dict[str, Any]]) -> list[str]:
    kind = node.get("Node Type")
    out = []
    for f in findings:
        matched = (
            (
                f.get("kind") == "seq_scan"
                and kind == "Seq Scan"
                and f.get("table") == node.get("Relation Name")
            )
            or (
                f.get("kind") == "misestimate"
                and f.get("node") == kind
                and f.get("plan_rows") == float(node.get("Plan Rows", -1))
                and f.get("actual_rows") == float(node.get("Actual Rows", -1))
            )
            or (f.get("kind") == "sort_on_disk" and node.get("Sort Space Type") == "Disk")
            or (f.get("kind") == "nested_loop" and kind == "Nested Loop")
        )
        if matched:
            out.append(str(f.get("message", f.get("kind"))))
    return out


def plan_rows(plan: dict[str, Any] | None, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Depth-first rows: ``depth``, ``node``, ``detail``, ``plan_rows``, ``actual_rows``,
    ``cost``, ``time_ms``, ``findings``. Empty when the plan is not a PostgreSQL plan."""
    root = (plan or {}).get("Plan")
    if not isinstance(root, dict):
        return []
    out: list[dict[str, Any]] = []
    stack: list[tuple[int, dict[str, Any]]] = [(0, root)]
    while stack:
        depth, node = stack.pop()
        detail = [
            f"on {node['Relation Name']}" if "Relation Name" in node else "",
            f"using {node['Index Name']}" if "Index Name" in node else "",
            f"({node.get('Join Type')} join)" if "Join Type" in node else "",
        ]
        condition = next(
            (
                node[k]
                for k in ("Index Cond", "Hash Cond", "Filter", "Join Filter", "Sort Key")
                if k in node
            ),
            None,
        )
        out.append(
            {
                "depth": depth,
                "indent": "\u2003" * depth + ("\u2514 " if depth else ""),
                "node": node.get("Node Type", "?"),
                "detail": " ".join(d for d in detail if d),
                "condition": ", ".join(condition) if isinstance(condition, list) else condition,
                "plan_rows": node.get("Plan Rows"),
                "actual_rows": node.get("Actual Rows"),
                "cost": node.get("Total Cost"),
                "time_ms": node.get("Actual Total Time"),
                "findings": _node_findings(node, findings),
            }
        )
        for child in reversed(node.get("Plans", [])):
            stack.append((depth + 1, child))
    return out
