"""What the playbook engine adds per step, and what a governed /rollback costs over a bare restore.

Part 1, in-process (SQLite, fsync on commit; the plane built by `build_context` as the app does):
playbooks of N AUTO steps running a trivial action registered like any operator's own
(`playbook_actions = "<this module>:actions"`), advanced by the real run worker and runner. Per
step: load the run, decide as the requester, `requested` record, commit; claim, `started` record,
commit; ledger lookup; run the action in the step pool; ledger row, `success` record, commit.
A step's time is the gap between two consecutive calls of the action within a run; the baseline
calls the same action directly (`Action.call`, as the runner does), interleaved run by run.
Part 2, real processes (local backend, free ports): `/rollback bankchurn env=dev` during an open
P1, approvals given by script as soon as they are pending, timed (from the run's own timeline)
until its restore step is done, the previous release serving at the stable address, and until
the run has succeeded; against the backend's own `restore` between the same two releases, called
directly from the same starting state (there and back before each governed run).
Usage: .venv/bin/python bench/playbook_runs.py [--rounds 4] [--rollbacks 3] [--profile]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import cProfile
import itertools
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from harness import REPO
from sqlmodel import Session

from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.config import Settings
from controlplane.context import AppContext, build_context
from controlplane.identity.models import Principal
from controlplane.playbook import service as runs
from controlplane.playbook.actions.base import (
    Action,
    ActionInputs,
    ActionOutputs,
    Requester,
    StepContext,
)
from controlplane.playbook.models import PlaybookEffect, PlaybookRun

HUMAN = Principal("bench", "bench-oncall", "human", frozenset({"operator"}))
STAMPS: list[float] = []  # perf_counter at each call of the trivial action
POLL_S = 0.05  # how often the scripted approvers look at the run
BEGUN = time.perf_counter()


class NoopIn(ActionInputs):
    i: int = 0


class NoopOut(ActionOutputs):
    i: int


def _noop(ctx: StepContext, given: NoopIn) -> NoopOut:
    STAMPS.append(time.perf_counter())
    return NoopOut(i=given.i)


def actions() -> list[Action[Any, Any]]:
    """The trivial action (gated as `notify`: AUTO everywhere, exempt from every signal)."""
    return [Action("bench.noop", "notify", "do nothing", NoopIn, NoopOut, _noop)]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


# -- part 1: engine overhead per step ---------------------------------------------------------


def _playbook(name: str, steps: int) -> str:
    lines = [
        f"name: {name}",
        f"description: {steps} AUTO steps of a trivial action.",
        "scope: {environment: dev, service: bankchurn}",
        "steps:",
    ]
    lines += [f"  - {{id: step_{k}, action: bench.noop, with: {{i: {k}}}}}" for k in range(steps)]
    return "\n".join(lines) + "\n"


def _plane(sizes: tuple[int, ...]) -> AppContext:
    """A plane on SQLite with the bench playbooks and the trivial action, its run worker on."""
    state = Path(tempfile.mkdtemp(prefix="bench-playbooks-"))
    books = state / "playbooks"
    books.mkdir()
    for n in sizes:
        (books / f"steps{n}.yaml").write_text(_playbook(f"steps{n}", n))
    settings = Settings(
        state_dir=state,
        policy_dir=REPO / "policies",
        playbook_dir=books,
        playbook_actions=f"{__name__}:actions",
        audit_writer="thread",
    )
    ctx = build_context(settings, workloads=FakeWorkloadBackend())
    if not ctx.playbooks.store.reload():
        raise SystemExit(f"bench playbooks refused: {ctx.playbooks.store.last_error}")
    ctx.playbooks.worker.start()  # as the app's lifespan does
    return ctx


class Finished:
    """Notes when the runner gives a run's lease back (its last commit is done by then)."""

    def __init__(self, ctx: AppContext) -> None:
        self.runner = ctx.playbooks.runner
        self.original = self.runner.release
        self.event = threading.Event()
        self.at = 0.0
        self.runner.release = self._release  # type: ignore[method-assign]

    def _release(self, run_id: str) -> None:
        self.original(run_id)
        self.at = time.perf_counter()
        self.event.set()


def _one_run(ctx: AppContext, finished: Finished, steps: int) -> tuple[float, list[float]]:
    """Start a run (as the API does) and wait for the worker: (seconds, seconds per step)."""
    book = ctx.playbooks.store.get(f"steps{steps}")
    assert book is not None
    STAMPS.clear()
    finished.event.clear()
    start = time.perf_counter()
    with Session(ctx.engine) as session:
        run = runs.start(
            session=session, decider=ctx.decider, actions=ctx.playbooks.actions,
            audit=ctx.audit, clock=ctx.clock, principal=HUMAN, book=book, inputs={},
            command=None, via="api",
        )  # fmt: skip
        run_id = run.id
        session.commit()  # wakes the run worker
    while True:
        if not finished.event.wait(120):
            raise SystemExit(f"run {run_id} did not finish in 120 s")
        finished.event.clear()
        with Session(ctx.engine) as session:
            status = session.get(PlaybookRun, run_id).status  # type: ignore[union-attr]
        if status == "succeeded":
            break
        if status not in ("queued", "running"):
            raise SystemExit(f"run {run_id} ended {status}")
    if len(STAMPS) != steps:
        raise SystemExit(f"the action ran {len(STAMPS)} times in a {steps}-step run")
    return finished.at - start, [b - a for a, b in itertools.pairwise(STAMPS)]


def _bare_calls(ctx: AppContext, n: int) -> list[float]:
    """The same action, called directly (validate inputs, run, dump outputs)."""
    action = ctx.playbooks.actions.get("bench.noop")
    assert action is not None
    times = []
    with Session(ctx.engine) as session:
        step_ctx = StepContext(
            run_id="bench", step_id="step_0", idempotency_key="bench:step_0:0",
            requester=Requester(HUMAN.name, HUMAN.kind), environment="dev",
            service="bankchurn", session=session, tools=ctx.playbooks.tools, now=ctx.clock.now(),
        )  # fmt: skip
        for k in range(n):
            start = time.perf_counter()
            action.call(step_ctx, {"i": k})
            times.append(time.perf_counter() - start)
    return times


def _bare_commits(ctx: AppContext, n: int) -> list[float]:
    """Reference: one ledger row inserted and committed (one fsync), nothing else."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        with Session(ctx.engine) as session:
            session.add(
                PlaybookEffect(
                    key=uuid.uuid4().hex, run_id="bench", outputs={"i": 0},
                    recorded_at=datetime.now(UTC),
                )
            )  # fmt: skip
            session.commit()
        times.append(time.perf_counter() - start)
    return times


def step_overhead(rounds: int, sizes: tuple[int, ...] = (10, 10, 10, 10, 10, 50)) -> dict[str, Any]:
    """Each round runs one playbook per entry of `sizes`, each followed by as many direct calls
    of the action and two bare commits: drift of the machine hits every path alike."""
    ctx = _plane(tuple(sorted(set(sizes))))
    finished = Finished(ctx)
    out: dict[str, Any] = {"bare": [], "commit": [], "sizes": {n: ([], []) for n in sizes}}
    try:
        _one_run(ctx, finished, sizes[0])  # warm-up: imports, caches, first signal reads
        for _ in range(rounds):
            for steps in sizes:
                walls, per_step = out["sizes"][steps]
                wall, gaps = _one_run(ctx, finished, steps)
                walls.append(wall)
                per_step += gaps
                out["bare"] += _bare_calls(ctx, steps)
                out["commit"] += _bare_commits(ctx, 2)
    finally:
        ctx.close()
    return out


def profile_steps(steps: int, count: int) -> None:
    """cProfile the runner in this thread (the step pool replaced by a same-thread executor)."""

    class Inline(concurrent.futures.Executor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            future.set_result(fn(*args, **kwargs))
            return future

    ctx = _plane((steps,))
    ctx.playbooks.worker.stop()
    runner = ctx.playbooks.runner
    runner._pool = Inline()  # type: ignore[assignment]
    book = ctx.playbooks.store.get(f"steps{steps}")
    assert book is not None
    ids = []
    for _ in range(count + 1):
        with Session(ctx.engine) as session:
            run = runs.start(
                session=session, decider=ctx.decider, actions=ctx.playbooks.actions,
                audit=ctx.audit, clock=ctx.clock, principal=HUMAN, book=book, inputs={},
                command=None, via="api",
            )  # fmt: skip
            ids.append(run.id)
            session.commit()
    runner.advance(ids[0])  # warm-up
    profiler = cProfile.Profile()
    profiler.enable()
    for run_id in ids[1:]:
        runner.advance(run_id)
    profiler.disable()
    ctx.close()
    print(f"cProfile of {count} runs x {steps} steps (runner.advance, inline step pool):")
    stats = pstats.Stats(profiler).sort_stats("tottime")
    stats.print_stats(15)
    stats.sort_stats("cumulative").print_stats(40)


# -- part 2: /rollback end to end -------------------------------------------------------------


def _train(out: Path, seed: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.bankchurn.train", "--out", str(out), "--seed", str(seed),
         "--rows", "1500"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def _serves(url: str, model_version: str) -> bool:
    """Whether the stable address answers /ready with that release's model."""
    try:
        r = httpx.get(f"{url}/ready", timeout=2)
    except httpx.HTTPError:
        return False
    return r.status_code == 200 and r.json().get("model_version") == model_version


def _until_serves(url: str, model_version: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not _serves(url, model_version):
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} does not serve {model_version}")
        time.sleep(0.01)


def _ts(value: str) -> float:
    """A timestamp of the run's timeline (the plane's clock, UTC) in epoch seconds."""
    stamp = datetime.fromisoformat(value)
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def _governed(
    client: Any, who: dict[str, str], voters: list[dict[str, str]], front: str, want: str
) -> tuple[dict[str, float], str]:
    """POST /rollback and vote as soon as a step waits; times come from the run's timeline."""
    wall0 = time.time()
    r = client.post(
        "/v1/commands", json={"text": "/rollback bankchurn env=dev reason='bench'"}, headers=who
    )
    if r.status_code != 202:
        raise SystemExit(f"/rollback refused: {r.status_code} {r.text}")
    run_id, voted, votes = r.json()["id"], set(), 0
    while True:
        run = client.get(f"/v1/runs/{run_id}", headers=who).json()
        if run["status"] in ("succeeded", "failed", "cancelled"):
            break
        for s in run["steps"]:
            if s["status"] == "pending_approval" and s["approval_id"] not in voted:
                for voter in voters[: s["required_approvals"]]:
                    vote = client.post(f"/v1/approvals/{s['approval_id']}/approve",
                                       json={"comment": "bench"}, headers=voter)  # fmt: skip
                    if vote.status_code not in (200, 202):
                        raise SystemExit(f"vote refused: {vote.status_code} {vote.text}")
                    votes += 1
                voted.add(s["approval_id"])
        if time.time() - wall0 > 180:
            raise SystemExit(f"/rollback still {run['status']}: {run['reason']}")
        time.sleep(POLL_S)
    if run["status"] != "succeeded":
        raise SystemExit(f"/rollback {run['status']}: {run['reason']}")
    _until_serves(front, want, 5)  # it does (verify checked it); not timed
    steps = run["steps"]
    span = {s["step_id"]: (_ts(s["started_at"]), _ts(s["finished_at"])) for s in steps}
    order = [s["step_id"] for s in steps]
    gated = [s for s in steps if s["mode"] != "AUTO"]
    waits = sum(
        span[s["step_id"]][0] - span[order[order.index(s["step_id"]) - 1]][1] for s in gated
    )
    execute, verify = (span[k][1] - span[k][0] for k in ("execute", "verify"))
    gates = ", ".join(f"{s['step_id']} {s['mode']} ({s['required_approvals']})" for s in gated)
    signals = [
        f"{s['step_id']} {s['mode']}: {why}"
        for s in gated
        for why in s["reasons"]
        if why.startswith("risk signal")
    ]
    gates += "".join(f"; escalated, {x}" for x in signals)
    serving, done = span["execute"][1] - wall0, _ts(run["finished_at"]) - wall0
    return {
        "serving": serving,
        "done": done,
        "added_serving": serving - execute,
        "added_done": done - execute,
        "restore": execute,
        "verify": verify,
        "approvals": waits,
        "to_first": span[order[0]][0] - wall0,
        "other_steps": sum(b - a for a, b in span.values()) - execute - verify,
        "votes": votes,
        "retries": sum(max(0, s["attempts"] - 1) for s in steps),
        "gated": len(gated),
    }, gates


def rollbacks(count: int) -> dict[str, list[Any]]:
    """Interleaved: raw restores to the other release and back, then the governed /rollback."""
    from fastapi.testclient import TestClient

    from controlplane.adapters.base import Target
    from controlplane.adapters.workload.local import LocalBackend
    from controlplane.app import create_app
    from controlplane.release.registry import ReleaseRegistry

    state = Path(tempfile.mkdtemp(prefix="bench-rollback-"))
    trainings = {
        name: _train(state / "artifacts" / name, seed) for name, seed in (("v1", 3), ("v2", 4))
    }
    for name, training in trainings.items():
        if training.wait() != 0:
            raise SystemExit(f"training {name} failed: {training.stderr.read().decode()[-800:]}")  # type: ignore[union-attr]
    settings = Settings(
        state_dir=state,
        policy_dir=REPO / "policies",
        playbook_dir=REPO / "playbooks",
        audit_writer="thread",
        health_window_s=1.0,
    )
    registry = ReleaseRegistry(state, repo_root=REPO)
    refs = {name: registry.build("bankchurn", state / "artifacts" / name).ref for name in trainings}
    backend = LocalBackend(state, base_port=0, ready_timeout_s=30)
    app = create_app(settings, workloads=backend)
    target = Target("bankchurn", "dev")
    out: dict[str, list[Any]] = {"raw": [], "resolve": []}
    try:
        with TestClient(app) as client:
            ctx = app.state.ctx
            admin = {"Authorization": f"Bearer {ctx.admin_token}"}

            def token(name: str, roles: list[str]) -> dict[str, str]:
                body = {"name": name, "kind": "human", "roles": roles}
                r = client.post("/v1/tokens", json=body, headers=admin)
                return {"Authorization": f"Bearer {r.json()['token']}"}

            oncall = token("oncall", ["operator", "approver"])
            voters = [token("bob", ["approver"]), token("carol", ["approver"])]
            for name in ("v1", "v2"):
                body = {"service": "bankchurn", "environment": "dev", "release": refs[name]}
                dep = client.post("/v1/deployments", json=body, headers=oncall).json()
                while dep["status"] in ("approved", "executing"):
                    time.sleep(0.05)
                    dep = client.get(f"/v1/deployments/{dep['id']}", headers=oncall).json()
                if dep["status"] != "succeeded":
                    raise SystemExit(f"deployment of {name}: {dep['status']} {dep.get('message')}")
            incident = {"service": "bankchurn", "environment": "dev", "severity": "P1",
                        "title": "5xx after v2 (bench)"}  # fmt: skip
            client.post("/v1/incidents", json=incident, headers=oncall).raise_for_status()
            print(f"part 2 set up at {time.perf_counter() - BEGUN:.0f} s", flush=True)
            front = backend.status(target).url
            assert front is not None
            releases = {name: ctx.workloads.releases.resolve(ref) for name, ref in refs.items()}
            version = {name: r.model_version or "" for name, r in releases.items()}
            serving = "v2"
            for _ in range(count):
                other = "v1" if serving == "v2" else "v2"
                start = time.perf_counter()
                ctx.workloads.releases.resolve(refs[other])
                out["resolve"].append(time.perf_counter() - start)
                for to in (other, serving):  # there and back: the run starts where it did
                    start = time.perf_counter()
                    result = backend.restore(target, releases[to])
                    if not result.ok:
                        raise SystemExit(f"raw restore failed: {result.reason}")
                    _until_serves(front, version[to])
                    out["raw"].append(time.perf_counter() - start)
                governed, gates = _governed(client, oncall, voters, front, version[other])
                for key, value in governed.items():
                    out.setdefault(key, []).append(value)
                out.setdefault("gates", []).append(gates)  # type: ignore[arg-type]
                serving = other
    finally:
        backend.stop_all()  # every service process and front
        app.state.ctx.close()  # already closed by the lifespan unless it never started
    return out


# -- report -----------------------------------------------------------------------------------


def run(rounds: int, rollback_count: int) -> str:
    """Measure both parts and return a markdown section."""
    load = os.getloadavg()[0]
    t = step_overhead(rounds)
    bare50 = _pct(t["bare"], 0.5)
    lines = [
        "### Playbook engine overhead per step and governed /rollback end to end",
        "",
        "| path (in-process, SQLite, fsync on commit) | samples | p50 ms/step | p99 ms/step "
        "| steps/s | p50 vs bare |",
        "|---|---:|---:|---:|---:|---:|",
        f"| bare: the trivial action called directly (`Action.call`) | {len(t['bare'])} "
        f"| {bare50:.4f} | {_pct(t['bare'], 0.99):.4f} "
        f"| {1 / statistics.mean(t['bare']):,.0f} | 1x |",
        f"| reference: insert one ledger row + commit (one fsync) | {len(t['commit'])} "
        f"| {_pct(t['commit'], 0.5):.2f} | {_pct(t['commit'], 0.99):.2f} "
        f"| {1 / statistics.mean(t['commit']):,.0f} | {_pct(t['commit'], 0.5) / bare50:,.0f}x |",
    ]
    for steps, (walls, per_step) in t["sizes"].items():
        p50 = _pct(per_step, 0.5)
        rate = steps / statistics.median(walls)
        lines.append(
            f"| ours: run worker + runner, {steps}-step run ({len(walls)} runs) | {len(per_step)} "
            f"| {p50:.2f} | {_pct(per_step, 0.99):.2f} | {rate:,.0f} | {p50 / bare50:,.0f}x |"
        )
    lines += [
        "",
        "- a step's time is the gap between two calls of the action in one run: the previous "
        "step's ledger row, `success` record and commit; a pass that loads the run and its steps "
        "and validates the spec; the decision as the requester (cached signals), the `requested` "
        "record, commit; a second pass, the claim (conditional UPDATE), the `started` record, "
        "commit; the ledger lookup; the hand-off to the step pool. Three fsync'd commits and three "
        "chained audit records per step, the lease taken once per run",
        "- steps/s is steps over the run's median wall time from its start (decision, rows, "
        "`requested` record, commit) to the lease given back, so it includes the worker's pick-up "
        "and the run's `success` record; the audit writer is the thread one (records of a run "
        "are written in its own transactions either way)",
        "- a step costs more in a longer run: each pass loads the run (its whole spec, inputs "
        "and outputs as JSON) and every step row of it; `--profile` prints a cProfile of the "
        "runner",
    ]
    print(f"part 1 done at {time.perf_counter() - BEGUN:.0f} s", flush=True)
    r = rollbacks(rollback_count)
    print(f"part 2 done at {time.perf_counter() - BEGUN:.0f} s", flush=True)
    med = statistics.median
    raw = med(r["raw"])
    retries = int(sum(r["retries"]))
    lines += [
        "",
        f"| /rollback bankchurn in dev, real processes ({len(r['raw'])} raw restores, "
        f"{len(r['done'])} governed runs, interleaved) | median s | vs raw |",
        "|---|---:|---:|",
        "| raw: `LocalBackend.restore` of the other release called directly (start it, /ready, "
        f"switch the front, stop the old one) | {raw:.2f} | 1.0x |",
        "| ours: `/rollback` request -> execute step done (the previous release answers at the "
        "stable address, the old process stopped, the rollback row committed) "
        f"| {med(r['serving']):.2f} | {med(r['serving']) / raw:.2f}x |",
        "| ours: `/rollback` request -> run succeeded (model check, silence, verify and record "
        f"after the restore) | {med(r['done']):.2f} | {med(r['done']) / raw:.2f}x |",
        "| ours: the backend restore inside the execute step (the same call as raw) "
        f"| {med(r['restore']):.2f} | {med(r['restore']) / raw:.2f}x |",
        "| what the plane adds to its own restore: request -> execute step done, minus the step "
        f"| {med(r['added_serving']):.2f} | |",
        "| what the plane adds to its own restore: request -> run succeeded, minus the step "
        f"| {med(r['added_done']):.2f} | |",
        "",
        "| where the rest of the governed run's time goes (medians, from its timeline) | s |",
        "|---|---:|",
        "| request -> first step started (command, `playbook.run` decision, rows, worker "
        f"pick-up) | {med(r['to_first']):.2f} |",
        f"| gaps before the {int(med(r['gated']))} gated steps (decide, pause, "
        f"{int(med(r['votes']))} scripted votes, worker wake-up, re-check, claim) "
        f"| {med(r['approvals']):.2f} |",
        "| verify step (/ready + error rate over the 1 s health window) "
        f"| {med(r['verify']):.2f} |",
        "| the other five steps (evidence, target, model check, silence, record) "
        f"| {med(r['other_steps']):.2f} |",
        "",
        "- raw restores go there and back before each governed run, so the run starts from the "
        "state the first raw restore started from; both count as raw samples",
        "- the restore is most of either path: a new service process must start and answer "
        "/ready before the switch. On a shared machine its time varies from one restore to the "
        "next by more than the plane adds, so the plane's share is also given against its own "
        "restore step, run by run",
        "- gated steps as decided (quorum): "
        + " / ".join(sorted(set(r["gates"])))
        + (
            ". The silence's base mode is CONSULT and `alert.silence` is not exempt from "
            "`recent_rollback`: the run's own restore, audited moments before, turns it on (in "
            "the first run; later runs also see the earlier ones)"
            if any("recent_rollback" in g for g in r["gates"])
            else ""
        )
        + ". The scripted "
        "approvers (bob, carol: humans who did not ask) poll the run every "
        f"{POLL_S * 1000:.0f} ms and vote at once; people take minutes, so in real use the "
        "votes dominate",
        "- a vote commits `mark_runnable`, which wakes the run worker at once; the poll interval "
        "(`run_poll_s`, 2 s by default) only matters for waits, retries with backoff and "
        f"takeovers: {retries} step retries in these runs"
        + ("" if retries else ", so no run waited for a poll")
        + f"; resolving (and verifying) the bundle alone took {med(r['resolve']) * 1000:.0f} ms",
        "- the health window is 1 s here (the app's default is 3 s); the audit writer is the "
        "thread one",
        f"- 1-minute load average {load:.1f} at the start and {os.getloadavg()[0]:.1f} at the end, "
        f"on {os.cpu_count()} CPUs: the machine is shared, so read the ratios and differences",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--rounds", type=int, default=4, help="rounds of five 10-step and one 50-step run"
    )
    parser.add_argument("--rollbacks", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the runner")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS-playbooks.md")
    args = parser.parse_args()
    if args.profile:
        profile_steps(10, 20)
        raise SystemExit(0)
    section = run(args.rounds, args.rollbacks)
    args.out.write_text(section + "\n")
    print(section)
