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

from controlplane.adapters.base import Release, RolloutResult, Target, WorkloadStatus
from controlplane.adapters.workload import local_process as proc
from controlplane.adapters.workload.local_state import Instance, StateFile, TargetState, port_free
from controlplane.errors import AdapterError, NotFound

CommandFactory = Callable[[Target, Release, int], list[str]]


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
    """Blue/green rollouts of service processes; state on disk lets a restarted plane adopt them."""

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
        predictions = self.directory / "predictions" / f"{target.service}-{target.environment}"
        return [
            sys.executable, "-m", f"services.{target.service}", "--port", str(port),
            "--artifact", release.artifact, "--host", "127.0.0.1", "--log-dir", str(predictions),
        ]  # fmt: skip

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
            if ts.active:
                self._stop(ts.active.pid)

            def stopped(ts: TargetState) -> None:
                ts.active, ts.replicas = None, 0

            self._update(target, stopped)
        return self.status(target)

    def status(self, target: Target) -> WorkloadStatus:
        """Report the recorded release and whether its process is alive and ready."""
        with _translated(target):
            ts = self.state.load().get(target.key)
        if ts is None or ts.release is None:
            return WorkloadStatus(target, None, "absent")
        ref = ts.release["ref"]
        inst = ts.active
        if inst is None or not proc.pid_alive(inst.pid):
            state = "stopped" if ts.replicas == 0 else "degraded"
            return WorkloadStatus(target, ref, state, replicas=ts.replicas, details={"pid": None})
        url = _url(inst.port)
        ready = proc.probe(url, "/ready")
        return WorkloadStatus(
            target, ref, "running" if ready else "degraded", replicas=1,
            ready_replicas=int(ready), url=url, since=inst.since,
            details={"pid": inst.pid, "port": inst.port, "log": inst.log},
        )  # fmt: skip

    def start(self) -> dict[str, str]:
        """Adopt live recorded processes, restart dead ones; say what happened per target."""
        with self._lock:
            targets = self.state.load()
        actions: dict[str, str] = {}
        for key, ts in targets.items():
            target = Target(*key.split("/", 1))
            if ts.pending is not None:
                self._stop(ts.pending.pid)
            if ts.release is None or ts.replicas == 0:
                actions[key] = "stopped"
            elif ts.active and proc.pid_alive(ts.active.pid) and _healthy(ts.active.port):
                actions[key] = "adopted"
            else:
                result = self._rollout(target, Release.from_json(ts.release), "recover")
                actions[key] = "restarted" if result.ok else f"failed: {result.reason}"
        return actions

    def stop_all(self) -> int:
        """Stop every process, all at once and for good (plane shutdown); return how many ran.

        Bounded by one grace period however many run; the recorded releases restart on the next
        start of the plane, but nothing more starts from this backend.
        """
        with self._lock:
            self._stopped = True
            targets = self.state.load()
            recorded = {i.pid for ts in targets.values() for i in (ts.active, ts.pending) if i}
            pids = recorded | set(self._children)
            running = sum(proc.pid_alive(pid) for pid in pids)
            proc.stop(*pids, grace_s=self.stop_grace_s)  # a dead leader may leave its group
            for ts in targets.values():
                ts.active = ts.pending = None
            self.state.save(targets)
            for child in self._children.values():
                child.poll()
            self._children.clear()
        return running

    def _recorded_release(self, target: Target) -> Release:
        ts = self.state.load().get(target.key)
        if ts is None or ts.release is None:
            raise NotFound(f"nothing deployed for {target.key}")
        return Release.from_json(ts.release)

    def _rollout(self, target: Target, release: Release, action: str) -> RolloutResult:
        started = time.monotonic()
        with self._target_lock(target), _translated(target):
            with self._lock:
                targets = self.state.load()
                ports = self.state.allocate_ports(targets, target.key)
                ts = targets[target.key]
                live = ts.active if ts.active and proc.pid_alive(ts.active.pid) else None
                previous = ts.release["ref"] if ts.release else None
                port = self._standby_port(targets, ts, live, ports)
                instance = self._launch(target, release, port, ts)
                self.state.save(targets)
            why = proc.wait_ready(
                _url(port), lambda: not proc.pid_alive(instance.pid), self.ready_timeout_s
            )
            if why is not None:
                self._stop(instance.pid)
                self._update(target, lambda ts: setattr(ts, "pending", None))
                serving = previous if live else None
                return RolloutResult(
                    False, target, serving, previous, duration_s=time.monotonic() - started,
                    reason=f"{action} of {release.ref} refused: {why}; "
                    + (f"{serving} keeps serving" if serving else "nothing is serving"),
                    details={"action": action, "log": instance.log,
                             "log_tail": proc.log_tail(Path(instance.log))},
                )  # fmt: skip

            def switch(ts: TargetState) -> None:
                ts.active, ts.pending, ts.release, ts.replicas = (
                    instance,
                    None,
                    release.to_json(),
                    1,
                )
                ts.history = [*ts.history, release.ref][-20:]

            self._update(target, switch)  # switch first: from here on the new process serves
            if live is not None:
                self._stop(live.pid)
        return RolloutResult(
            True, target, release.ref, previous, url=_url(port),
            duration_s=time.monotonic() - started,
            details={"action": action, "pid": instance.pid, "port": port, "log": instance.log},
        )  # fmt: skip

    def _update(self, target: Target, change: Callable[[TargetState], None]) -> None:
        """Change one target on disk under the state lock, so targets never clobber each other."""
        with self._lock:
            targets = self.state.load()
            change(targets.setdefault(target.key, TargetState()))
            self.state.save(targets)

    def _target_lock(self, target: Target) -> threading.Lock:
        with self._lock:
            return self._target_locks.setdefault(target.key, threading.Lock())

    def _standby_port(
        self,
        targets: dict[str, TargetState],
        ts: TargetState,
        live: Instance | None,
        ports: list[int],
    ) -> int:
        """The target's port that the live instance does not use; re-allocated if squatted."""
        index = 1 if live is not None and live.port == ports[0] else 0
        if not port_free(ports[index]):
            ports.pop(index)
            key = next(k for k, v in targets.items() if v is ts)
            self.state.allocate_ports(targets, key)
            index = len(ports) - 1
        return ports[index]

    def _launch(self, target: Target, release: Release, port: int, ts: TargetState) -> Instance:
        if self._stopped:
            raise AdapterError(f"not starting {target.key}: the local backend has been stopped")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        log = self.directory / "logs" / f"{target.service}-{target.environment}-{stamp}-{port}.log"
        env = {"MODEL_VERSION": release.model_version or "", "CONTROLPLANE_RELEASE": release.ref}
        child = proc.spawn(self.command(target, release, port), log, env)
        self._children[child.pid] = child
        since = datetime.now(UTC).isoformat(timespec="seconds")
        ts.pending = Instance(release.to_json(), child.pid, port, since, str(log))
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
