"""DORA at scale: the full `/v1/dora` computation over 10k, 100k and 1M deployments in SQLite.

Rows are synthetic but shaped like the plane's: one year of deployments of the three services
(40% production, 30% staging, 30% dev; 5% of production rows are rollbacks; 85% succeeded, 7%
failed, 3% rolled back, the rest never ran; 10% without a commit time), decision, gates and
health JSON of a realistic size, and one incident per 50 production deployments (most linked
to the deployment that caused it). The schema is the plane's own (its migrations), the rows
are bulk-inserted with executemany. Timed: `dora.service.report` for the 30 and 90 day windows
(median of 3), against the floor measured in the same run on the same rows: a plain SQL
`count(*)` of the window's production rows, and of the whole table.
Usage: .venv/bin/python bench/dora_scale.py [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from controlplane import db
from controlplane.clock import ManualClock
from controlplane.dora import bands
from controlplane.dora import service as dora

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
SPAN_DAYS = 365
SERVICES = ("bankchurn", "nlpinsight", "chicagotaxi")
KINDS = ("human", "agent", "ci")
FMT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite
OUT = Path(__file__).resolve().parent / "RESULTS-dora.md"
GOAL_S = 2.0
DECISION = json.dumps({"decision_id": "d" * 32, "operation": "deploy", "environment": "production",
                       "base_mode": "CONSULT", "final_mode": "CONSULT", "signals": [
                           {"name": n, "state": "inactive", "source": "prometheus",
                            "observed_at": "2026-11-25T10:00:00Z", "evidence": {}}
                           for n in ("incident_active", "error_budget_low", "off_hours")],
                       "reasons": ["production deploys need one human"],
                       "required_approvals": 1, "policy_version": "a" * 12})  # fmt: skip
GATES = json.dumps([{"name": g, "passed": True, "reason": "ok"}
                    for g in ("freeze", "soak", "security_audit", "pinned")])  # fmt: skip
HEALTH = json.dumps({"healthy": True, "ready": True, "error_rate": 0.0, "requests": 200})


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).strftime(FMT)


def _deployment(i: int, rng: random.Random) -> tuple[object, ...]:
    finished = NOW - timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86400))
    env = rng.choices(("production", "staging", "dev"), (40, 30, 30))[0]
    kind = "rollback" if env == "production" and rng.random() < 0.05 else "deploy"
    status = rng.choices(
        ("succeeded", "failed", "rolled_back", "blocked", "rejected"), (85, 7, 3, 3, 2)
    )[0]
    if kind == "rollback":
        status = "succeeded"
    ran = status in ("succeeded", "failed", "rolled_back")
    started = finished - timedelta(seconds=rng.uniform(20, 600))
    commit = started - timedelta(hours=rng.expovariate(1 / 30))
    has_commit = kind == "deploy" and rng.random() < 0.9
    return (
        f"{i:032x}", rng.choice(SERVICES), env, f"bankchurn@sha256:{i:064x}", kind, "v1.2.3",
        f"{i:040x}" if has_commit else None, _ts(commit) if has_commit else None,
        '{"reason": "weekly retrain"}', "h" * 64, "ci-bot", rng.choice(KINDS), status, "AUTO",
        DECISION, GATES, HEALTH if ran else "{}", _ts(started - timedelta(minutes=5)),
        _ts(started) if ran else None, _ts(finished) if ran else None,
    )  # fmt: skip


def _incident(i: int, dep: tuple[object, ...], rng: random.Random) -> tuple[object, ...]:
    finished = datetime.strptime(str(dep[19]), FMT).replace(tzinfo=UTC)
    opened = finished + timedelta(minutes=rng.uniform(1, 120))
    mitigated = opened + timedelta(minutes=rng.uniform(5, 90))
    resolved = mitigated + timedelta(hours=rng.uniform(1, 24))
    linked = rng.random() < 0.8
    return (
        f"i{i:031x}", dep[1], "production", "P2", "5xx after deploy", "resolved", "alertmanager",
        "alertmanager", _ts(opened), _ts(resolved), _ts(mitigated), dep[0] if linked else None,
    )  # fmt: skip


def build(path: Path, n: int) -> float:
    """Create the plane's schema and bulk-insert n deployments (+ incidents); seconds taken."""
    engine = db.make_engine(f"sqlite:///{path}")
    db.migrate(engine)
    engine.dispose()
    rng = random.Random(n)
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    # Bulk load: drop the migrations' secondary indexes, insert, create them again (same DDL).
    ddl = [r[0] for r in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        " AND tbl_name IN ('deployment', 'incident')")]  # fmt: skip
    for name in [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN ('deployment', 'incident')")]:  # fmt: skip
        conn.execute(f'DROP INDEX "{name}"')
    deps = [_deployment(i, rng) for i in range(n)]
    conn.executemany(
        "INSERT INTO deployment (id, service, environment, release, kind, release_tag, commit_sha,"
        " commit_time, request, request_hash, requested_by, requested_kind, status, mode,"
        " decision, gates, health, created_at, started_at, finished_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        deps,
    )
    prod = [d for d in deps if d[2] == "production" and d[4] == "deploy" and d[19] is not None]
    incidents = [_incident(i, d, rng) for i, d in enumerate(prod[::50])]
    conn.executemany(
        "INSERT INTO incident (id, service, environment, severity, title, status, source,"
        " opened_by, opened_at, resolved_at, mitigated_at, deployment_id)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        incidents,
    )
    for statement in ddl:
        conn.execute(statement)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def _timed(fn: object, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# Migration 0010's covering index for every DORA query of the default path (no GitHub, no
# release bundles): the window is a range of finished_at, and no row of the table is read.
DORA_INDEX = (
    "CREATE INDEX ix_deployment_dora ON deployment (finished_at, environment, status, kind,"
    " service, requested_kind, started_at, commit_time)"
)


def _ddl(path: Path, statement: str) -> float:
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute(statement)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def drop_index(path: Path) -> None:
    """The schema before migration 0010 (the baseline the index is measured against)."""
    _ddl(path, "DROP INDEX ix_deployment_dora")


def add_index(path: Path) -> float:
    """Migration 0010's index again; seconds to build it."""
    return _ddl(path, DORA_INDEX)


def measure(path: Path, n: int, build_s: float, variant: str) -> dict[str, Any]:
    """Time DORA (30 and 90 days) and the count(*) floors on the same file."""
    engine = db.make_engine(f"sqlite:///{path}", read_only=True)
    clock = ManualClock(NOW)
    table = bands.load()
    out: dict[str, Any] = {"rows": n, "build_s": build_s, "variant": variant}
    with Session(engine) as session:
        for window in (30, 90):
            start = NOW - timedelta(days=window)
            count = text(
                "SELECT count(*) FROM deployment WHERE environment = 'production'"
                " AND finished_at >= :s AND finished_at < :e"
            )
            params = {"s": _ts(start), "e": _ts(NOW)}
            out[f"in_window_{window}"] = session.connection().execute(count, params).scalar() or 0
            out[f"floor_{window}"] = _timed(
                lambda c=count, p=params: session.connection().execute(c, p).scalar()
            )
            out[f"dora_{window}"] = _timed(
                lambda w=window: dora.report(
                    session=session, clock=clock, window_days=w, service=None, table=table
                )
            )
        whole = text("SELECT count(*) FROM deployment")
        out["floor_all"] = _timed(lambda: session.connection().execute(whole).scalar())
    engine.dispose()
    return out


def write(results: list[dict[str, Any]]) -> None:
    """bench/RESULTS-dora.md."""
    lines = [
        "### DORA at scale (SQLite, the plane's schema, one year of synthetic deployments)",
        "",
        "`dora.service.report` (all keys, by requester and service, weekly series) against a",
        "plain `count(*)` of the window's production rows, same file, same run; medians of 3.",
        "Rows are ~2 KB each (decision, gates and health JSON of a realistic size), so a million",
        "rows is a ~2 GB file. `without 0010` is the same file without migration 0010's covering",
        f"index `{DORA_INDEX.removeprefix('CREATE INDEX ')}`.",
        "",
        "| deployments | schema | build | in 30 d window | count(*) 30 d | DORA 30 d | ratio |"
        " in 90 d window | count(*) 90 d | DORA 90 d | ratio | count(*) whole table |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {int(r['rows']):,} | {r['variant']} | {r['build_s']:.1f} s |"
            f" {int(r['in_window_30']):,} |"
            f" {r['floor_30'] * 1000:.1f} ms | {r['dora_30'] * 1000:.0f} ms |"
            f" {r['dora_30'] / r['floor_30']:.1f}x | {int(r['in_window_90']):,} |"
            f" {r['floor_90'] * 1000:.1f} ms | {r['dora_90'] * 1000:.0f} ms |"
            f" {r['dora_90'] / r['floor_90']:.1f}x | {r['floor_all'] * 1000:.1f} ms |"
        )
    for variant in ("without 0010", "as migrated"):
        runs = [r for r in results if r["variant"] == variant]
        if len(runs) > 1:
            first, last = runs[0], runs[-1]
            lines += [
                "",
                f"Growth, {variant}, {int(first['rows']):,} -> {int(last['rows']):,} rows"
                f" ({last['rows'] / first['rows']:.0f}x): DORA 90 d"
                f" {last['dora_90'] / first['dora_90']:.1f}x, count(*) 90 d"
                f" {last['floor_90'] / first['floor_90']:.1f}x.",
            ]
    big = [r for r in results if r["rows"] >= 1_000_000]
    for r in big:
        verdict = {w: "met" if r[f"dora_{w}"] < GOAL_S else "not met" for w in (30, 90)}
        lines.append(
            f"\nGoal (DORA at 1M rows under {GOAL_S:.0f} s), {r['variant']}:"
            f" 30 d {r['dora_30']:.2f} s ({verdict[30]}), 90 d {r['dora_90']:.2f} s"
            f" ({verdict[90]})."
        )
    lines += ["", f"Load average when written: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
              " (a shared machine: compare within a run)."]  # fmt: skip
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    """Build each size in a temporary folder, measure, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", type=int, default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-dora-") as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"dora-{n}.db"
            build_s = build(path, n)
            drop_index(path)
            results.append(measure(path, n, build_s, "without 0010"))
            print(f"{n:,} rows: {results[-1]}", flush=True)
            results.append(measure(path, n, add_index(path), "as migrated"))
            print(f"{n:,} rows: {results[-1]}", flush=True)
            path.unlink()
    write(results)


if __name__ == "__main__":
    main()
