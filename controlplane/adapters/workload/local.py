"""Local workload backend: each (service, environment) is a supervised process on loopback."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from controlplane.adapters.base import LogChunk, Release, RolloutResult, Target, WorkloadStatus
from controlplane.adapters.workload import local_front as front
from controlplane.adapters.workload import local_logs as logs
from controlplane.adapters.workload import local_process as proc
from controlplane.adapters.workload.local_state import Instance, StateFile, TargetState, port_free
from controlplane.errors import AdapterError, NotFound

CommandFactory = Callable[[Target, Release, int], list[str]]
FRONT_START_S = 15.0


@contextmanager
def _translated(target: Target) -> Iterator[None]:
    """Turn OS and subprocess failures into AdapterError naming the target."""
    try:
        yield
    except (AdapterError, NotFound):
        raise
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise AdapterError(
            f"local backend failed for {target.key}: {exc}", {"target": target.key}
        ) from exc


class LocalBackend:
    """Blue/green rollouts of service processes behind one fixed address per target (its front).

    State on disk lets a restarted plane adopt the processes and fronts that still run.
    """

    name = "local"

    def __init__(
        self,
        state_dir: Path,
        *,
        base_port: int = 8800,
        ready_timeout_s: float = 60.0,
        stop_grace_s: float = 10.0,
        command: CommandFactory | None = None,
    ) -> None:
        self.directory = Path(state_dir) / "workloads"
        self.state = StateFile(self.directory, base_port=base_port)
        self.ready_timeout_s = ready_timeout_s
        self.stop_grace_s = stop_grace_s
        self.command = command or self.service_command
        self._lock = threading.RLock()
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._target_locks: dict[str, threading.Lock] = {}
        self._stopped = False

    def service_command(self, target: Target, release: Release, port: int) -> list[str]:
        """`python -m services.<name> --port P --artifact DIR`, bound to loopback."""
        if not release.artifact:
            raise AdapterError(f"release {release.ref} has no artifact directory to run locally")
        return [
            sys.executable, "-m", f"services.{target.service}", "--port", str(port),
            "--artifact", release.artifact, "--host", "127.0.0.1",
            "--log-dir", str(self.prediction_log(target)),
        ]  # fmt: skip

    def prediction_log(self, target: Target) -> Path:
        """Where `target`'s processes write their prediction log (kept across releases)."""
        return self.directory / "predictions" / f"{target.service}-{target.environment}"

    def deploy(self, target: Target, release: Release) -> RolloutResult:
        """Start `release` beside the current one, switch when ready, then stop the old one."""
        return self._rollout(target, release, "deploy")

    def restore(self, target: Target, previous_release: Release) -> RolloutResult:
        """Roll back to `previous_release` the same safe way as a deploy."""
        return self._rollout(target, previous_release, "restore")

    def restart(self, target: Target) -> RolloutResult:
        """Replace the running process with a fresh one of the same release."""
        return self._rollout(target, self._recorded_release(target), "restart")

    def scale(self, target: Target, replicas: int) -> WorkloadStatus:
        """0 stops the process, 1 (re)starts the recorded release; more needs Kubernetes."""
        if replicas not in (0, 1):
            raise AdapterError(
                "the local backend runs one process per target; use kubernetes for more replicas",
                {"target": target.key, "replicas": replicas},
            )
        if replicas == 1:
            if self.status(target).state != "running":
                result = self._rollout(target, self._recorded_release(target), "scale")
                if not result.ok:
                    raise AdapterError(result.reason, {"target": target.key})
            return self.status(target)
        with self._target_lock(target), _translated(target):
            ts = self.state.load().get(target.key)
            if ts is None:
                raise NotFound(f"nothing deployed for {target.key}")

            def stopped(ts: TargetState) -> None:
                ts.active, ts.replicas = None, 0

            self._update(target, stopped)
            if ts.front_port is not None:  # the address stays, answering 503 at once
                front.serving(ts.front_port, reload=True)
            if ts.active:
                self._stop(ts.active.pid)
        return self.status(target)

    def status(self, target: Target) -> WorkloadStatus:
        """The recorded release at the target's address; when it is not running, say why."""
        with _translated(target):
            ts = self.state.load().get(target.key)
        if ts is None or ts.release is None:
            return WorkloadStatus(target, None, "absent")
        ref, inst = ts.release["ref"], ts.active
        address = _url(ts.front_port) if ts.front_port else None
        if inst is None or not proc.pid_alive(inst.pid):
            if ts.replicas == 0:
                return WorkloadStatus(target, ref, "stopped", url=address, details={"pid": None})
            why = proc.exited_how(inst.pid) if inst else f"no process is running {ref}"
            down = {"pid": None, "reason": why, **logs.details(logs.newest(ts, inst))}
            return WorkloadStatus(target, ref, "degraded", 1, url=address, details=down)
        ready = proc.probe(_url(inst.port), "/ready")
        details: dict[str, object] = {
            "pid": inst.pid, "port": inst.port, "log": inst.log, "backend_url": _url(inst.port),
            "front_pid": ts.front_pid,
        }  # fmt: skip
        reason = _not_serving(ts, inst, ready)
        if reason is not None:
            details |= {"reason": reason, **logs.details(inst.log)}
        return WorkloadStatus(
            target, ref, "degraded" if reason else "running", replicas=1,
            ready_replicas=int(ready), url=address, since=inst.since, details=details,
        )  # fmt: skip

    def logs(
        self,
        target: Target,
        *,
        release: str | None = None,
        tail: int = 100,
        after: str | None = None,
    ) -> LogChunk:
        """The last `tail` lines of the active process's log (or of `release`'s newest log), or
        with `after` (a cursor `<log file>:<offset>`) the complete lines written since then."""
        with _translated(target):
            ts = self.state.load().get(target.key)
            return logs.chunk(ts, target, release, tail=tail, after=after)

    def start(self) -> dict[str, str]:
        """Adopt live recorded fronts and processes, restart dead ones; say what happened."""
        with self._lock:
            targets = self.state.load()
        actions: dict[str, str] = {}
        for key, ts in targets.items():
            target = Target(*key.split("/", 1))
            if ts.pending is not None:
                self._stop(ts.pending.pid)
            if ts.release is None:
                actions[key] = "stopped"
                continue
            try:
                with self._target_lock(target), _translated(target):
                    self._front(target)
            except AdapterError as exc:
                actions[key] = f"failed: {exc.message}"
                continue
            actions[key] = self._start_one(target, ts)
        return actions

    def stop_all(self) -> int:
        """Stop every process and front, all at once and for good (plane shutdown).

        Bounded by one grace period however many run; returns how many ran. The recorded
        releases and fronts (on the same ports) start again with the plane; nothing more starts
        from this backend.
        """
        with self._lock:
            self._stopped = True
            targets = self.state.load()
            recorded = {i.pid for ts in targets.values() for i in (ts.active, ts.pending) if i}
            fronts = {ts.front_pid for ts in targets.values() if ts.front_pid is not None}
            pids = recorded | fronts | set(self._children)
            running = sum(proc.pid_alive(pid) for pid in pids)
            proc.stop(*pids, grace_s=self.stop_grace_s)  # a dead leader may leave its group
            for ts in targets.values():
                ts.active = ts.pending = None
                ts.front_pid = None
            self.state.save(targets)
            for child in self._children.values():
                child.poll()
            self._children.clear()
        return running

    def _start_one(self, target: Target, ts: TargetState) -> str:
        """Adopt the recorded process when it still serves, else run the recorded release."""
        if ts.replicas == 0:
            return "stopped"
        if ts.active and proc.pid_alive(ts.active.pid) and _healthy(ts.active.port):
            return "adopted"
        assert ts.release is not None
        result = self._rollout(target, Release.from_json(ts.release), "recover")
        return "restarted" if result.ok else f"failed: {result.reason}"

    def _recorded_release(self, target: Target) -> Release:
        ts = self.state.load().get(target.key)
        if ts is None or ts.release is None:
            raise NotFound(f"nothing deployed for {target.key}")
        return Release.from_json(ts.release)

    def _rollout(self, target: Target, release: Release, action: str) -> RolloutResult:
        """Start beside the live process, switch the front once ready, then stop the old one.

        The result's url is the target's stable address: the switch has happened by then, so
        that is where the new release answers (its own address is details["backend_url"]).
        """
        started = time.monotonic()
        with self._target_lock(target), _translated(target):
            address = self._front(target)
            with self._lock:
                targets = self.state.load()
                ts = targets[target.key]
                live = ts.active if ts.active and proc.pid_alive(ts.active.pid) else None
                previous = ts.release["ref"] if ts.release else None
                instance = self._launch(target, release, self.state.instance_port(targets), ts)
                self.state.save(targets)
            url = _url(instance.port)
            why = proc.wait_ready(
                url, lambda: not proc.pid_alive(instance.pid), self.ready_timeout_s
            )
            if why is not None:
                return self._refuse(target, release, action, instance, live, previous, started)

            def switch(ts: TargetState) -> None:
                ts.active, ts.pending, ts.release, ts.replicas = (
                    instance,
                    None,
                    release.to_json(),
                    1,
                )
                ts.history = [*ts.history, release.ref][-20:]

            self._update(target, switch)
            self._route(target, instance.port)  # the front serves the new one before the old stops
            if live is not None:
                self._stop(live.pid)
        return RolloutResult(
            True, target, release.ref, previous, url=address,
            duration_s=time.monotonic() - started,
            details={"action": action, "pid": instance.pid, "port": instance.port,
                     "backend_url": url, "log": instance.log},
        )  # fmt: skip

    def _refuse(
        self,
        target: Target,
        release: Release,
        action: str,
        instance: Instance,
        live: Instance | None,
        previous: str | None,
        started: float,
    ) -> RolloutResult:
        """Stop the instance that never got ready; say why, with the end of its log."""
        exited = not proc.pid_alive(instance.pid)
        tail = proc.log_tail(Path(instance.log))  # before stopping: shutdown lines say nothing
        self._stop(instance.pid)
        self._update(target, lambda ts: setattr(ts, "pending", None))
        if exited:
            why = f"{proc.exited_how(instance.pid)} before it became ready"
        else:
            why = f"/ready did not answer 200 within {self.ready_timeout_s:g}s"
        last = proc.telling_line(tail)
        serving = previous if live else None
        return RolloutResult(
            False, target, serving, previous, duration_s=time.monotonic() - started,
            reason=f"{action} of {release.ref} refused: {why}; its log says: {last}; "
            + (f"{serving} keeps serving" if serving else "nothing is serving"),
            details={"action": action, "log": instance.log, "log_tail": tail},
        )  # fmt: skip

    def _front(self, target: Target) -> str:
        """Make sure the target's front runs on its fixed port (adopt or start it); its URL."""
        with self._lock:
            targets = self.state.load()
            port = self.state.front_port(targets, target.key)
            recorded = targets[target.key].front_pid
            self.state.save(targets)
        info = front.serving(port)
        if info is not None and info["target"] == target.key:
            if info["pid"] != recorded:
                self._update(target, lambda ts: setattr(ts, "front_pid", info["pid"]))
            return _url(port)
        if recorded is not None:
            self._stop(recorded)
        if self._stopped:
            raise AdapterError(f"not starting {target.key}: the local backend has been stopped")
        if not port_free(port):
            raise AdapterError(
                f"the address of {target.key}, {_url(port)}, is taken by another process",
                {"target": target.key, "port": port},
            )
        log = self.directory / "logs" / f"{target.service}-{target.environment}-front.log"
        child = proc.spawn(front.command(self.directory, target.key, port), log)
        self._children[child.pid] = child
        self._update(target, lambda ts: setattr(ts, "front_pid", child.pid))
        if not front.wait_serving(port, lambda: proc.pid_alive(child.pid), FRONT_START_S):
            self._stop(child.pid)
            raise AdapterError(
                f"the front of {target.key} did not start on {_url(port)}: "
                f"{proc.log_tail(log, 5) or proc.exited_how(child.pid)}",
                {"target": target.key, "log": str(log)},
            )
        return _url(port)

    def _route(self, target: Target, port: int) -> None:
        """Have the front re-read the state and confirm it now forwards to `port`."""
        ts = self.state.load()[target.key]
        assert ts.front_port is not None
        info = front.serving(ts.front_port, reload=True)
        if info is None:  # the front died: a fresh one reads the new state as it starts
            self._front(target)
            info = front.serving(ts.front_port)
        if info is None or info["port"] != port:
            raise AdapterError(
                f"the front of {target.key} did not switch to port {port}: it serves {info}",
                {"target": target.key},
            )

    def _update(self, target: Target, change: Callable[[TargetState], None]) -> None:
        """Change one target on disk under the state lock, so targets never clobber each other."""
        with self._lock:
            targets = self.state.load()
            change(targets.setdefault(target.key, TargetState()))
            self.state.save(targets)

    def _target_lock(self, target: Target) -> threading.Lock:
        with self._lock:
            return self._target_locks.setdefault(target.key, threading.Lock())

    def _launch(self, target: Target, release: Release, port: int, ts: TargetState) -> Instance:
        if self._stopped:
            raise AdapterError(f"not starting {target.key}: the local backend has been stopped")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        log = self.directory / "logs" / f"{target.service}-{target.environment}-{stamp}-{port}.log"
        env = {"MODEL_VERSION": release.model_version or "", "CONTROLPLANE_RELEASE": release.ref}
        env["PYTHONUNBUFFERED"] = "1"  # log lines reach the file (and `opsctl logs`) as written
        child = proc.spawn(self.command(target, release, port), log, env)
        self._children[child.pid] = child
        since = datetime.now(UTC).isoformat(timespec="seconds")
        ts.pending = Instance(release.to_json(), child.pid, port, since, str(log))
        ts.record_log(ts.pending)
        return ts.pending

    def _stop(self, pid: int) -> None:
        proc.stop(pid, grace_s=self.stop_grace_s)
        child = self._children.pop(pid, None)
        if child is not None:
            child.poll()


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def _healthy(port: int) -> bool:
    return proc.probe(_url(port), "/health")


def _not_serving(ts: TargetState, inst: Instance, ready: bool) -> str | None:
    """Why the live process does not serve at the target's address, or None when it does."""
    if not ready:
        return f"/ready of process {inst.pid} on port {inst.port} does not answer 200"
    if ts.front_pid is None or not proc.pid_alive(ts.front_pid):
        return (
            f"the front at {_url(ts.front_port or 0)} is not running (the plane starts it again); "
            f"the release answers only at {_url(inst.port)}"
        )
    return None
