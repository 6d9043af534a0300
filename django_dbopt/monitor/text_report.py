"""The text rendering of ``build_report`` for ``dbopt_report --format text``."""

from __future__ import annotations

from typing import Any


def _ms(value: float | None) -> str:
    return "no data" if value is None else f"{value:.2f}"


def render(report: dict[str, Any], verbosity: int = 1) -> str:
    lines: list[str] = []
    store = report["store"]
    lines.append(
        f"Query monitor report (since {report['since'] or 'the beginning'}"
        + (f", view {report['view']}" if report["view"] else "")
        + f"); store: {store['kind']}, {store['flushes']} flushes from "
        f"{store['processes']} processes, {store['evictions']} evictions"
    )
    lines.append(
        f"Percentiles are within {report['histogram_relative_error'] * 100:.1f}% of exact."
    )
    lines.append("")
    lines.append("Top fingerprints by total time")
    if not report["fingerprints"]:
        lines.append("  no data")
    for row in report["fingerprints"]:
        lines.append(
            f"  {row['fingerprint']}  calls={row['calls']}  total={_ms(row['total_ms'])} ms  "
            f"p50={_ms(row['p50_ms'])}  p95={_ms(row['p95_ms'])}  p99={_ms(row['p99_ms'])}  "
            f"max={_ms(row['max_ms'])}  slow={row['slow']}"
        )
        lines.append(f"      {row['sql'][: 300 if verbosity > 1 else 120]}")
    lines.append("")
    lines.append("Slow queries")
    if not report["slow_queries"]:
        lines.append("  none recorded")
    for sample in report["slow_queries"]:
        lines.append(
            f"  {sample['duration_ms']:.1f} ms  {sample['fingerprint']}  view={sample['view']}  "
            f"at {sample['call_site']}"
        )
    lines.append("")
    lines.append("N+1 findings")
    if not report["nplusone"]:
        lines.append("  none recorded")
    for finding in report["nplusone"]:
        lines.append(
            f"  {finding['max_count']} x {finding['fingerprint']}  view={finding['view']}  "
            f"seen {finding['occurrences']} times, {finding['total_ms']:.1f} ms in all"
        )
        lines.append(f"      at {finding['call_site']}")
        if finding["hint"]:
            lines.append(f"      hint: {finding['hint']}")
    advice = report.get("index_advice")
    if advice is not None:
        lines.append("")
        lines.append("Index advice")
        if isinstance(advice, dict):
            lines.append(f"  unavailable: {advice['unavailable']}")
        elif not advice:
            lines.append("  nothing to add")
        for item in advice if isinstance(advice, list) else []:
            saved = (
                f"est. {item['est_saved_ms']:.1f} ms saved (cost {item['cost_before']:.1f} -> "
                f"{item['cost_after']:.1f})"
                if item["est_saved_ms"] is not None
                else "no HypoPG: not validated"
            )
            lines.append(f"  [{item['status']}] {item['ddl']}  {saved}")
            if verbosity > 1:
                lines.append("      " + item["migration"].replace("\n", "\n      "))
    idx = report.get("indexes")
    if isinstance(idx, dict) and "unused" in idx:
        lines.append("")
        lines.append("Unused indexes (no scans since statistics reset)")
        lines.extend(f"  {i['table']}.{i['index']} {i['columns']}" for i in idx["unused"])
        lines.append("Duplicate indexes")
        lines.extend(
            f"  {i['table']}.{i['index']} {i['columns']} (covered by {i['covered_by']})"
            for i in idx["duplicate"]
        )
    return "\n".join(lines) + "\n"
