"""The local release registry: build bundles into the state folder, find and verify them."""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import logging
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from controlplane.audit.signing import Signer
from controlplane.errors import ControlPlaneError, InvalidSpec, NotFound
from controlplane.handoff.invariants import SERVICE_PATTERN
from controlplane.handoff.release import Release
from controlplane.release import bundle, verify
from controlplane.release.bundle import ReleaseUnusable
from controlplane.release.models import ReleaseInfo, UnusableRelease

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
KEY_FILE = "release-signing.key"
INITIAL_SEED = 42
INITIAL_ROWS = {"bankchurn": 3000, "nlpinsight": 3000, "chicagotaxi": 3000}
TRAIN_TIMEOUT_S = 600.0


class ReleaseRegistry:
    """Bundles under `<state_dir>/releases/<service>/<digest>/`, signed with one local key."""

    def __init__(self, state_dir: Path, *, repo_root: Path | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.root = self.state_dir / "releases"
        self.repo_root = repo_root or REPO_ROOT
        self._key_path = self.state_dir / KEY_FILE
        self._signer: Signer | None = None
        self._lock = threading.Lock()

    def _trusted_key(self, *, create: bool) -> Signer | None:
        """The release key; created on the first build only, never by a read."""
        with self._lock:
            if self._signer is None and (create or self._key_path.exists()):
                self._signer = Signer.load_or_create(self._key_path)
            return self._signer

    def _signing_key(self) -> Signer:
        """The release key, created with mode 0600 on the first build."""
        signer = self._trusted_key(create=True)
        if signer is None:  # pragma: no cover - create=True always yields a key
            raise ControlPlaneError(f"cannot create the release key {self._key_path}")
        return signer

    # -- build -------------------------------------------------------------------------------

    def build(
        self, service: str, artifact_dir: Path, *, code_version: str | None = None
    ) -> ReleaseInfo:
        """Bundle a trained artifact; the same artifact at the same commit gives the same ref."""
        _check_service(service)
        signer = self._signing_key()
        lock = self.repo_root / "uv.lock"
        version = code_version or bundle.code_version(self.repo_root)
        service_dir = self.root / service
        service_dir.mkdir(parents=True, exist_ok=True)
        work = service_dir / f".build-{uuid.uuid4().hex}"
        try:
            work.mkdir()
            data = bundle.assemble(
                work, service=service, artifact_dir=Path(artifact_dir), lock=lock, version=version
            )
            release = Release(service, hashlib.sha256(data).hexdigest())
            final = service_dir / (release.digest or "")
            if final.exists():
                existing = self._existing(final)
                if existing is not None:
                    return existing
            bundle.seal(work, release=release, signer=signer, lock=lock)
            with contextlib.suppress(OSError):  # a concurrent build of the same bytes won
                work.rename(final)
            return verify.load(final, signer)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _existing(self, final: Path) -> ReleaseInfo | None:
        """The verified bundle already at `final`, or None after moving a broken one aside."""
        try:
            return verify.load(final, self._trusted_key(create=False))
        except ReleaseUnusable as exc:
            quarantine = self.root / ".quarantine" / f"{final.name}-{int(time.time())}"
            quarantine.parent.mkdir(parents=True, exist_ok=True)
            final.rename(quarantine)
            log.warning("moved unusable release to %s: %s", quarantine, exc.message)
            return None

    def ensure_initial(self, service: str) -> ReleaseInfo:
        """The newest usable release of `service`; train a small seeded model when there is none."""
        found = self.list(service)
        if found:
            return found[0]
        work = self.root / ".work" / f"{service}-{uuid.uuid4().hex[:8]}"
        cmd = [
            sys.executable, "-m", f"services.{service}.train", "--out", str(work),
            "--seed", str(INITIAL_SEED), "--rows", str(INITIAL_ROWS.get(service, 3000)),
        ]  # fmt: skip
        log.info("training an initial %s model: %s", service, " ".join(cmd[1:]))
        try:
            proc = subprocess.run(
                cmd,
                cwd=self.repo_root,
                capture_output=True,
                text=True,
                timeout=TRAIN_TIMEOUT_S,
                check=False,
            )
            if proc.returncode != 0:
                raise ControlPlaneError(
                    f"training the initial {service} model failed (exit {proc.returncode})",
                    {"command": " ".join(cmd), "stderr": proc.stderr[-2000:]},
                )
            return self.build(service, work)
        except subprocess.TimeoutExpired:
            raise ControlPlaneError(f"training the initial {service} model timed out") from None
        finally:
            shutil.rmtree(work, ignore_errors=True)

    # -- read --------------------------------------------------------------------------------

    def has(self, ref: str | Release) -> bool:
        """Whether a bundle of that pinned reference was built here (verified or not)."""
        release = _parse(ref)
        return release.digest is not None and self._path(release.name, release.digest).is_dir()

    def _path(self, service: str, digest: str) -> Path:
        """Where the bundle of one release lives (`<releases>/<service>/<digest>`)."""
        return self.root / _check_service(service) / digest

    def get(self, ref: str | Release) -> ReleaseInfo:
        """A fully re-verified release; NotFound lists the refs known for that service."""
        release = _parse(ref)
        if release.digest is None:
            raise InvalidSpec(f"{release} is not pinned: use <service>@sha256:<64 hex>")
        path = self._path(release.name, release.digest)
        if not path.is_dir():
            known = [r.ref for r in self.list(release.name)]
            raise NotFound(
                f"no release {release}",
                {"service": release.name, "known": known or ["none built yet"]},
            )
        return verify.load(path, self._trusted_key(create=False))

    def artifact_dir(self, ref: str | Release) -> Path:
        """The verified artifact folder a workload backend starts the service with."""
        return self.get(ref).artifact_dir

    def list(self, service: str | None = None) -> list[ReleaseInfo]:
        """Usable releases, newest first (broken bundles are in `unusable()`)."""
        return self.scan(service)[0]

    def unusable(self, service: str | None = None) -> builtins.list[UnusableRelease]:
        """Bundles on disk that failed verification, and why."""
        return self.scan(service)[1]

    def scan(
        self, service: str | None = None
    ) -> tuple[builtins.list[ReleaseInfo], builtins.list[UnusableRelease]]:
        """Verify every bundle (of one service, or all): the usable ones and the refused ones."""
        ok: builtins.list[ReleaseInfo] = []
        bad: builtins.list[UnusableRelease] = []
        signer = self._trusted_key(create=False)
        for path in self._bundle_dirs(service):
            try:
                ok.append(verify.load(path, signer))
            except ReleaseUnusable as exc:
                problem = str(exc.details.get("problem", exc.message))
                bad.append(
                    UnusableRelease(service=path.parent.name, digest=path.name, problem=problem)
                )
        ok.sort(key=lambda r: (r.manifest.created_at, r.ref), reverse=True)
        return ok, bad

    def _bundle_dirs(self, service: str | None) -> builtins.list[Path]:
        if not self.root.is_dir():
            return []
        services = [self.root / _check_service(service)] if service else sorted(self.root.iterdir())
        return [
            p
            for s in services
            if s.is_dir() and not s.name.startswith(".")
            for p in sorted(s.iterdir())
            if p.is_dir() and not p.name.startswith(".")
        ]


def _parse(ref: str | Release) -> Release:
    if isinstance(ref, Release):
        return ref
    try:
        return Release.parse(ref)
    except ValueError as exc:
        raise InvalidSpec(str(exc)) from None


def _check_service(service: str) -> str:
    """Refuse names that are not a service (and could climb out of the releases folder)."""
    if not re.match(SERVICE_PATTERN, service):
        raise InvalidSpec(
            f"{service!r} is not a service name (lowercase letter, then letters, digits, _ or -)"
        )
    return service
