"""AlertSilencer: silence a target's alerts for a while (silence, never delete; extend).

The embedded default keeps silences in a JSON file. The Alertmanager one (silence_alertmanager.py)
maps the same calls to POST /api/v2/silences and DELETE /api/v2/silence/{id}.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from controlplane.errors import InvalidRequest, NotFound

MIN_S, MAX_S = 60, 24 * 3600


@dataclass(frozen=True)
class Silence:
    """One silence: what it matches and until when."""

    id: str
    matchers: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    state: str  # active | expired
    key: str = ""  # the idempotency key of the call that made it
    extended_by: tuple[str, ...] = ()  # the keys of the calls that extended it


class AlertSilencer(Protocol):
    """Silences alerts matching labels for a bounded time."""

    def silence(self, matchers: Mapping[str, str], *, duration_s: int, comment: str,
                created_by: str, idempotency_key: str) -> Silence: ...  # fmt: skip

    def expire(self, silence_id: str) -> Silence: ...

    def active(self, now: datetime | None = None) -> list[Silence]: ...


class EmbeddedSilencer:
    """Silences in a JSON file; the same matchers while active extend the silence."""

    def __init__(self, path: Path, clock: Callable[[], datetime]) -> None:
        self.path, self.clock = path, clock
        self._lock = threading.Lock()

    def _load(self) -> dict[str, Silence]:
        if not self.path.exists():
            return {}
        raw = json.loads(self.path.read_text())
        return {k: _from_json(v) for k, v in raw.items()}

    def _save(self, items: dict[str, Silence]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: _to_json(v) for k, v in items.items()}, indent=1))
        os.replace(tmp, self.path)

    def silence(self, matchers: Mapping[str, str], *, duration_s: int, comment: str,
                created_by: str, idempotency_key: str) -> Silence:  # fmt: skip
        """Silence (once per key); an active silence of the same matchers is extended."""
        if not MIN_S <= duration_s <= MAX_S:
            raise InvalidRequest(f"a silence lasts {MIN_S} s to {MAX_S} s, not {duration_s}")
        with self._lock:
            items, now = self._load(), self.clock()
            done = next((s for s in items.values()
                         if idempotency_key in (s.key, *s.extended_by)), None)  # fmt: skip
            if done is not None:
                return done
            ends = now + timedelta(seconds=duration_s)
            same = next((s for s in items.values() if s.matchers == dict(matchers)
                         and s.state == "active" and s.ends_at > now), None)  # fmt: skip
            if same is not None:
                made = replace(same, ends_at=max(same.ends_at, ends),
                               extended_by=(*same.extended_by, idempotency_key))  # fmt: skip
            else:
                made = Silence(uuid.uuid4().hex, dict(matchers), now, ends, comment[:500],
                               created_by, "active", idempotency_key)  # fmt: skip
            items[made.id] = made
            self._save(items)
            return made

    def expire(self, silence_id: str) -> Silence:
        """End a silence now (it stays on record, with the time it really ended)."""
        with self._lock:
            items = self._load()
            if silence_id not in items:
                raise NotFound(f"silence {silence_id} not found")
            found = items[silence_id]
            done = replace(found, state="expired", ends_at=min(found.ends_at, self.clock()))
            items[silence_id] = done
            self._save(items)
            return done

    def active(self, now: datetime | None = None) -> list[Silence]:
        """Silences in force."""
        at = now or self.clock()
        with self._lock:
            return [s for s in self._load().values() if s.state == "active" and s.ends_at > at]


def _to_json(s: Silence) -> dict[str, Any]:
    out = asdict(s)
    out["starts_at"], out["ends_at"] = s.starts_at.isoformat(), s.ends_at.isoformat()
    return out


def _from_json(d: dict[str, Any]) -> Silence:
    return Silence(**{**d, "starts_at": datetime.fromisoformat(d["starts_at"]),
                      "ends_at": datetime.fromisoformat(d["ends_at"]),
                      "extended_by": tuple(d.get("extended_by", ()))})  # fmt: skip
