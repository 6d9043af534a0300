"""The text report (``--format text``, the default)."""

from __future__ import annotations

from typing import Any


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"


def _ratio(r: dict[str, Any] | None) -> str:
    if not r:
        return "no data"
    return f"{r['ratio']:.2f}x [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"


def _header(report: dict[str, Any]) -> list[str]:
    p, env = report["pattern"], report["environment"]
    parts = env["parts"]
    rate = f", rate {p['rate']:g}/s" if p["rate"] else ""
    lines = [
        f"dbopt_benchmark: preset {p['preset']}, {p['mode']} loop, concurrency "
        f"{p['concurrency']}{rate}, {p['duration_s']:g}s per workload (+{p['warmup_s']:g}s "
        f"warm-up), {p['trials']} trials",
        f"environment: {env['database']['server']} ({env['database']['alias']}), Django "
        f"{env['django']}, Python {env['python']}, django-dbopt {env['django_dbopt']}, "
        f"{env['cpus']} CPUs, {env['platform']}",
        f"parts: monitor {'on' if parts['monitor'] else 'off'}, router "
        f"{'on' if parts['router'] else 'off'} ({parts['replicas']} replicas), cache "
        f"{parts['cache_backend']}, pool {'on' if parts['pool'] else 'off'}",
    ]
    floor = report["calibration"]
    if floor:
        lines.append(
            f"calibration (database floor): {floor['method']}: p50 {_ms(floor['p50_ms'])} ms, "
            f"p99 {_ms(floor['p99_ms'])} ms, {floor['ops_per_s']:.0f} round trips/s"
        )
    return lines


def _workloads(report: dict[str, Any]) -> list[str]:
    head = (
        f"{'workload':<14}{'ops':>8}{'err':>6}{'ops/s':>9}{'p50':>8}{'p95':>8}{'p99':>8}"
        f"{'p99.9':>8}{'max':>8}{'q/op':>6}  (latencies in ms)"
    )
    lines = ["", head]
    for w in report["workloads"]:
        if "skipped" in w:
            lines.append(f"{w['name']:<14}skipped: {w['skipped']}")
            continue
        lat = w["latency_ms"]
        per_op = w["queries"]["per_op"]
        lines.append(
            f"{w['name'][:13]:<14}{w['ops']:>8}{w['errors']:>6}{w['throughput']:>9.1f}"
            f"{_ms(lat['p50']):>8}{_ms(lat['p95']):>8}{_ms(lat['p99']):>8}"
            f"{_ms(lat['p99_9']):>8}{_ms(lat['max']):>8}"
            f"{'-' if per_op is None else f'{per_op:.2f}':>6}"
        )
        for label, sub in w["operations"].items():
            lines.append(
                f"  {label[:12]:<12}{sub['ops']:>8}{'':>15}{_ms(sub['p50']):>8}"
                f"{_ms(sub['p95']):>8}{_ms(sub['p99']):>8}"
            )
        if "cache_hit_ratio" in w:
            lines.append(f"  ORM cache hit ratio (scratch tables): {w['cache_hit_ratio']:.1%}")
        if w["unfinished"]:
            lines.append(f"  {w['unfinished']} scheduled operations never started")
        for sample in w["error_samples"][:2]:
            lines.append(f"  error: {sample}")
        comparison = w.get("comparison")
        if comparison and comparison["status"] != "no baseline":
            floor = comparison.get("floor_change")
            moved = "" if floor is None else f" (database floor {floor:+.0%} since)"
            lines.append(
                f"  vs runs {comparison['baseline_runs']}: {comparison['status']}, median "
                f"{comparison['effect']:+.1%}, p(slower) {comparison['p_slower']:.3f}{moved}"
            )
    return lines


def _fingerprints(report: dict[str, Any]) -> list[str]:
    lines = ["", "top queries (by total time, per workload):"]
    for w in report["workloads"]:
        for fp in w.get("top_fingerprints", [])[:2]:
            aliases = ", ".join(f"{a} {n}" for a, n in fp["aliases"].items())
            lines.append(
                f"  {w['name'][:12]:<12} {fp['count']:>7}x {fp['total_ms']:>9.1f} ms  "
                f"[{aliases}]  {fp['sql'][:70]}"
            )
    return lines


def _ab(report: dict[str, Any]) -> list[str]:
    if not report["ab"]:
        return []
    rounds = max((a.get("rounds", 0) for a in report["ab"]), default=0)
    lines = ["", f"A/B of django-dbopt (on / off, {rounds} interleaved rounds, 95% bootstrap CI):"]
    for a in report["ab"]:
        if "skipped" in a:
            lines.append(f"  {a['part']:<13} skipped: {a['skipped']}")
            continue
        line = f"  {a['part']:<13} throughput {_ratio(a['throughput_ratio'])}"
        if a["part"].startswith("cache"):
            saved = a.get("queries_saved")
            line += f"; queries that reached the database {_ratio(a['queries_ratio'])}"
            if saved is not None:
                line += f" ({saved:.0%} saved)"
        if a["part"] == "router":
            line += f"; reads served by a replica {a['replica_share_on']:.0%}"
        lines.append(line)
    return lines


def _resources(report: dict[str, Any]) -> list[str]:
    proc = report["resources"]["process"]
    rss = proc["rss_bytes"]
    lines = [
        "",
        f"process: CPU {proc['cpu_percent']}% of one core (user {proc['cpu_user_s']}s, system "
        f"{proc['cpu_system_s']}s over {proc['wall_s']}s), RSS "
        f"{'-' if rss is None else f'{rss / 2**20:.0f} MiB'} (peak "
        f"{proc['peak_rss_bytes'] / 2**20:.0f} MiB)",
    ]
    server = report["resources"]["pg_stat_database"]
    if server:
        shown = ", ".join(f"{k} +{v}" for k, v in server.items() if v)
        lines.append(f"pg_stat_database: {shown or 'no change'}")
    for statement in (report["resources"].get("pg_stat_statements") or [])[:3]:
        lines.append(
            f"pg_stat_statements: {statement['calls']:>7}x {statement['total_ms']:>9.1f} ms  "
            f"{' '.join(statement['query'].split())[:80]}"
        )
    return lines


def render(report: dict[str, Any]) -> str:
    lines = [*_header(report), *_workloads(report), *_fingerprints(report), *_ab(report)]
    lines += _resources(report)
    grades = report["grades"]
    lines += ["", f"grades (overall {grades['overall'] or 'no data'}):"]
    for entry in grades["targets"]:
        lines.append(f"  {entry['grade'] or '-':<2} {entry['explanation']}")
    lines.append("")
    lines.append(f"regressions: {report['regressions']}")
    if report["recommendations"]:
        lines.append("recommendations:")
        lines += [f"  - {r['text']}" for r in report["recommendations"][:10]]
    else:
        lines.append("recommendations: none from this run")
    stored = report["run_id"]
    lines.append(f"stored as run #{stored}" if stored else "not stored")
    return "\n".join(lines)
