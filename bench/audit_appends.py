"""Durable audit appends per second vs the raw fsync-per-record limit of the same disk.

Three numbers from one run, same folder, same record size:
- raw: append one JSON line to a file and fsync it, per record (the disk's floor for
  "each record durable before we answer", with no database at all);
- plane, one transaction per record (how a change and its record commit together);
- plane, group commit (how decisions are recorded: many waiting callers, one fsync per batch),
  with 32 threads submitting concurrently.
Usage: .venv/bin/python bench/audit_appends.py [--records 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlmodel import Session

from controlplane.audit import service as audit
from controlplane.audit.commit.batcher import GroupCommitter
from controlplane.audit.commit.remote import ProcessCommitter
from controlplane.audit.commit.sql import append_in_session
from controlplane.audit.recorder import make_entry
from controlplane.audit.signing import Signer
from controlplane.clock import SystemClock, iso
from controlplane.db import make_engine, migrate


def _entry(i: int) -> dict[str, object]:
    return make_entry(
        actor="bench",
        actor_kind="agent",
        operation="deploy",
        result="requested",
        environment="dev",
        service="bankchurn",
        base_mode="AUTO",
        final_mode="AUTO",
        inputs={"i": i},
        outputs={"reasons": ["base mode for deploy in dev is AUTO"]},
    )


def raw_fsync(folder: Path, n: int) -> float:
    """Records/s appending + fsyncing a JSONL file, one record at a time."""
    line = (json.dumps(_entry(0)) + "\n").encode()
    fd = os.open(folder / "raw.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    start = time.perf_counter()
    for _ in range(n):
        os.write(fd, line)
        os.fsync(fd)
    elapsed = time.perf_counter() - start
    os.close(fd)
    return n / elapsed


def per_transaction(folder: Path, n: int) -> float:
    """Records/s with one SQLite transaction (and fsync) per record."""
    engine = make_engine(f"sqlite:///{folder / 'tx.db'}")
    migrate(engine)
    clock = SystemClock()
    start = time.perf_counter()
    for i in range(n):
        with Session(engine) as session:
            append_in_session(session, [_entry(i)], ts=iso(clock.now()), signer=None, every=0)
            session.commit()
    elapsed = time.perf_counter() - start
    engine.dispose()
    return n / elapsed


def group_commit(folder: Path, n: int, threads: int = 32) -> float:
    """Records/s with 32 threads submitting to the group committer; the chain must verify."""
    engine = make_engine(f"sqlite:///{folder / 'gc.db'}")
    migrate(engine)
    committer = GroupCommitter(
        engine=engine,
        clock=SystemClock(),
        signer=Signer.load_or_create(folder / "k"),
        checkpoint_every=lambda: 1000,
    )
    per_thread = n // threads

    def work(t: int) -> None:
        for i in range(per_thread):
            committer.submit(_entry(t * per_thread + i))

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    elapsed = time.perf_counter() - start
    committer.close()
    with Session(engine) as session:
        ok = audit.verify(session=session, signer=Signer.load_or_create(folder / "k")).ok
    engine.dispose()
    if not ok:
        raise SystemExit("chain did not verify after the group-commit run")
    return per_thread * threads / elapsed


def process_commit(folder: Path, n: int, writers: int = 32) -> float:
    """Records/s with 32 coroutines on one event loop awaiting the writer process (the server's
    path for decisions); the chain must verify."""
    url = f"sqlite:///{folder / 'proc.db'}"
    engine = make_engine(url)
    migrate(engine)
    key = folder / "pk"
    committer = ProcessCommitter(
        engine=engine,
        database_url=url,
        signing_key=key,
        clock=SystemClock(),
        signer=Signer.load_or_create(key),
        checkpoint_every=lambda: 1000,
    )
    per_writer = n // writers

    async def work(w: int) -> None:
        for i in range(per_writer):
            await committer.append(_entry(w * per_writer + i))

    async def everyone() -> None:
        await asyncio.gather(*(work(w) for w in range(writers)))

    start = time.perf_counter()
    asyncio.run(everyone())
    elapsed = time.perf_counter() - start
    committer.close()
    with Session(engine) as session:
        ok = audit.verify(session=session, signer=Signer.load_or_create(key)).ok
    engine.dispose()
    if not ok:
        raise SystemExit("chain did not verify after the writer-process run")
    return per_writer * writers / elapsed


def run(n: int) -> str:
    """Measure all three and return a markdown section."""
    with tempfile.TemporaryDirectory(prefix="bench-audit-", dir=".") as tmp:
        folder = Path(tmp)
        raw = raw_fsync(folder, n)
        tx = per_transaction(folder, n)
        gc = group_commit(folder, n)
        proc = process_commit(folder, n)
    return "\n".join(
        [
            f"### Durable audit appends ({n:,} records each, same disk, "
            "SQLite WAL synchronous=FULL)",
            "",
            "| writer | records/s | vs raw fsync |",
            "|---|---:|---:|",
            f"| raw: JSONL append + fsync per record | {raw:,.0f} | 1.00x |",
            f"| plane: one transaction per record (change + record commit together) | {tx:,.0f} | "
            f"{tx / raw:.2f}x |",
            f"| plane: group commit in a writer thread, 32 threads submitting | {gc:,.0f} | "
            f"{gc / raw:.2f}x |",
            f"| plane: group commit in the writer process, 32 coroutines awaiting (decisions, "
            f"the server default) | {proc:,.0f} | {proc / raw:.2f}x |",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS-audit.md")
    args = parser.parse_args()
    section = run(args.records)
    args.out.write_text(section + "\n")
    print(section)
