"""AlertSilencer on Alertmanager's API v2 (POST /api/v2/silences, DELETE /api/v2/silence/{id}).

The same contract as EmbeddedSilencer: a silence lasts what it was asked for, an active silence
the plane made for the same matchers is extended (never shortened, never doubled), each call
counts once per idempotency key, and an expired silence stays on record (Alertmanager keeps it
for its `--data.retention`, 120 h by default).

Alertmanager takes no request key, so the key rides in the comment as a trailing marker,
`[controlplane:KEY]`; an extension appends its own. Before creating, the silences with the same
matchers (`filter`) are searched for the key: a retried step gets the silence it made, even
after it was extended or expired. The check-then-create holds a lock in this process only:
two replicas racing on the same target may make two silences (Alertmanager has no CAS).

Alertmanager down, too slow or answering 5xx is AdapterUnavailable naming the URL; a 4xx (an
invalid matcher) is AdapterError carrying Alertmanager's own message; an unknown id NotFound.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import httpx

from controlplane.adapters.silence import MAX_S, MIN_S, Silence
from controlplane.clock import SystemClock
from controlplane.errors import AdapterError, AdapterUnavailable, InvalidRequest, NotFound

MARKER = "[controlplane:{key}]"
_KEY = re.compile(r"[^\s\[\]]{1,200}")
_MARKS = re.compile(r"(?:\s*\[controlplane:[^\s\[\]]+\])+\s*$")
_MARK = re.compile(r"\[controlplane:([^\s\[\]]+)\]")
_OPS = {(True, False): "", (False, False): "!=", (True, True): "=~", (False, True): "!~"}
_IN_FORCE = ("active", "pending")


def marker(key: str) -> str:
    """The comment marker that ties a silence to the call (idempotency key) that made it."""
    return MARKER.format(key=key)


def split_comment(comment: str) -> tuple[str, list[str]]:
    """A stored comment's human text, and the keys of its trailing markers, oldest first."""
    found = _MARKS.search(comment)
    if found is None:
        return comment, []
    return comment[: found.start()], _MARK.findall(found.group())


def rfc3339(moment: datetime) -> str:
    """UTC with milliseconds and a Z, as Alertmanager writes its own times."""
    if moment.tzinfo is None:
        raise ValueError("silence times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    """Alertmanager's RFC 3339 times (`...T07:35:25.695Z`), as aware UTC datetimes."""
    text = value.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # more than microseconds (RFC 3339 allows nanoseconds): keep six digits
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass(frozen=True)
class _Found:
    """One silence as Alertmanager holds it, and as the plane reads it."""

    raw: dict[str, Any]
    silence: Silence
    plain: bool  # only `name="value"` matchers, one per name (what the plane itself makes)
    updated_at: str


def _read(raw: Any) -> _Found:
    """Parse one GettableSilence; anything malformed is a KeyError/TypeError/ValueError."""
    if not isinstance(raw, dict):
        raise TypeError(f"a silence is an object, not {type(raw).__name__}")
    matchers: dict[str, str] = {}
    plain = True
    for m in raw["matchers"]:
        name, value = str(m["name"]), str(m["value"])
        op = _OPS[(bool(m.get("isEqual", True)), bool(m.get("isRegex", False)))]
        plain = plain and op == "" and name not in matchers
        matchers[name] = op + value  # a regex or negative matcher keeps its operator in front
    text, keys = split_comment(str(raw.get("comment", "")))
    silence = Silence(
        id=str(raw["id"]),
        matchers=matchers,
        starts_at=parse_time(str(raw["startsAt"])),
        ends_at=parse_time(str(raw["endsAt"])),
        comment=text,
        created_by=str(raw.get("createdBy", "")),
        state=str(raw["status"]["state"]),
        key=keys[0] if keys else "",
        extended_by=tuple(keys[1:]),
    )
    return _Found(raw, silence, plain, str(raw.get("updatedAt", "")))


def _newest_in_force_first(found: _Found) -> tuple[bool, str]:
    return (found.silence.state in _IN_FORCE, found.updated_at)


def _extendable(found: list[_Found], wanted: dict[str, str], now: datetime) -> _Found | None:
    """The newest silence in force that the plane made for exactly these matchers."""
    return next((f for f in sorted(found, key=_newest_in_force_first, reverse=True)
                 if f.plain and f.silence.key and f.silence.matchers == wanted
                 and f.silence.state in _IN_FORCE and f.silence.ends_at > now), None)  # fmt: skip


def _extension(same: _Found, ends_at: datetime, key: str) -> dict[str, Any]:
    """The PostableSilence that updates `same` in place: the id, matchers and start unchanged
    (otherwise Alertmanager expires it and makes a new one), a later end, one more marker."""
    return {
        "id": same.silence.id,
        "matchers": same.raw["matchers"],
        "startsAt": same.raw["startsAt"],
        "endsAt": rfc3339(ends_at),
        "createdBy": same.raw.get("createdBy", ""),
        "comment": _with_marker(str(same.raw.get("comment", "")), key),
    }


def _with_marker(comment: str, key: str) -> str:
    return f"{comment} {marker(key)}" if comment else marker(key)


class AlertmanagerSilencer:
    """Silences on a real Alertmanager (API v2), under the AlertSilencer contract."""

    name = "alertmanager"

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.Client | None = None,
        timeout_s: float = 5.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.url = base_url.rstrip("/")
        self.timeout_s, self.clock = timeout_s, clock or SystemClock().now
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=timeout_s)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP client when this adapter made it."""
        if self._own_client:
            self._client.close()

    # -- the contract ------------------------------------------------------------------------

    def silence(self, matchers: Mapping[str, str], *, duration_s: int, comment: str,
                created_by: str, idempotency_key: str) -> Silence:  # fmt: skip
        """Silence (once per key); an active silence the plane made for the same matchers is
        extended in place (its end moves later, never earlier; its id stays)."""
        if not MIN_S <= duration_s <= MAX_S:
            raise InvalidRequest(f"a silence lasts {MIN_S} s to {MAX_S} s, not {duration_s}")
        if not _KEY.fullmatch(idempotency_key):
            raise InvalidRequest(
                f"idempotency key {idempotency_key!r} cannot ride in a comment marker "
                "(1 to 200 characters, no whitespace or brackets)"
            )
        wanted = {str(k): str(v) for k, v in matchers.items()}
        with self._lock:
            found = self._list(wanted)
            done = [f for f in found if idempotency_key in (f.silence.key, *f.silence.extended_by)]
            if done:  # a retry: what the first call made (extended since, or even expired)
                return max(done, key=_newest_in_force_first).silence
            now = self.clock()
            ends = now + timedelta(seconds=duration_s)
            same = _extendable(found, wanted, now)
            if same is not None:
                body = _extension(same, max(same.silence.ends_at, ends), idempotency_key)
            else:
                body = {
                    "matchers": [
                        {"name": k, "value": v, "isRegex": False, "isEqual": True}
                        for k, v in sorted(wanted.items())
                    ],
                    "startsAt": rfc3339(now),
                    "endsAt": rfc3339(ends),
                    "createdBy": created_by,
                    "comment": _with_marker(comment[:500], idempotency_key),
                }
            response = self._send("POST", "/api/v2/silences", json=body)
            if response.status_code != 200:
                self._fail(response, "create the silence")
            made = self._json(response, "POST /api/v2/silences")
            if not isinstance(made, dict) or not isinstance(made.get("silenceID"), str):
                self._malformed("POST /api/v2/silences", "no silenceID in the answer")
            return self._get(made["silenceID"]).silence

    def expire(self, silence_id: str) -> Silence:
        """End a silence now; an already expired one is returned as it is (not an error)."""
        with self._lock:
            current = self._get(silence_id)
            if current.silence.state == "expired":
                return current.silence
            response = self._send("DELETE", f"/api/v2/silence/{silence_id}")
            if response.status_code != 200:
                # it may have run out meanwhile: older Alertmanagers refuse to expire it twice
                again = self._get(silence_id)
                if again.silence.state != "expired":
                    self._fail(response, f"expire silence {silence_id}")
                return again.silence
            return self._get(silence_id).silence

    def active(self, now: datetime | None = None) -> list[Silence]:
        """Every silence in force in Alertmanager, the plane's and anyone else's: by
        Alertmanager's own state for now, by the silences' times for another `now`."""
        found = [f.silence for f in self._list({})]
        if now is None:  # Alertmanager's clock decides (a skewed plane clock must not hide one)
            return [s for s in found if s.state == "active"]
        return [s for s in found if s.state in _IN_FORCE and s.starts_at <= now < s.ends_at]

    # -- HTTP --------------------------------------------------------------------------------

    def _list(self, matchers: Mapping[str, str]) -> list[_Found]:
        """GET /api/v2/silences, narrowed to silences with these `name="value"` matchers."""
        params = [
            ("filter", f"{k}={json.dumps(v, ensure_ascii=False)}") for k, v in matchers.items()
        ]
        response = self._send("GET", "/api/v2/silences", params=params)
        if response.status_code != 200:
            self._fail(response, "list silences")
        items = self._json(response, "GET /api/v2/silences")
        try:
            if not isinstance(items, list):
                raise TypeError("the silence list is not a JSON array")
            return [_read(item) for item in items]
        except (KeyError, TypeError, ValueError) as exc:
            self._malformed("GET /api/v2/silences", f"{exc.__class__.__name__}: {exc}")

    def _get(self, silence_id: str) -> _Found:
        response = self._send("GET", f"/api/v2/silence/{silence_id}")
        # 422: not a UUID, so no silence of Alertmanager's can have it
        if response.status_code in (404, 422):
            raise NotFound(f"silence {silence_id} not found in alertmanager at {self.url}")
        if response.status_code != 200:
            self._fail(response, f"read silence {silence_id}")
        try:
            return _read(self._json(response, f"GET /api/v2/silence/{silence_id}"))
        except (KeyError, TypeError, ValueError) as exc:
            self._malformed(f"GET /api/v2/silence/{silence_id}", f"{exc.__class__.__name__}: {exc}")

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; a transport failure or timeout becomes AdapterUnavailable."""
        details = {"url": self.url, "request": f"{method} {path}"}
        try:
            return self._client.request(
                method, f"{self.url}{path}", timeout=self.timeout_s, **kwargs
            )
        except httpx.TimeoutException as exc:
            raise AdapterUnavailable(
                f"alertmanager at {self.url} did not answer {method} {path} within "
                f"{self.timeout_s} s ({exc.__class__.__name__})",
                details,
            ) from exc
        except httpx.HTTPError as exc:
            raise AdapterUnavailable(
                f"alertmanager at {self.url} is unreachable: {exc.__class__.__name__}: {exc}",
                details,
            ) from exc

    def _fail(self, response: httpx.Response, what: str) -> NoReturn:
        """Raise for a non-200 answer: 5xx unavailable, 404 not found, other 4xx refused."""
        request = f"{response.request.method} {response.request.url.path}"
        details = {"url": self.url, "request": request, "status": response.status_code}
        said = _message(response)
        if response.status_code >= 500:
            raise AdapterUnavailable(
                f"alertmanager at {self.url} failed to {what} ({response.status_code}): {said}",
                details,
            )
        if response.status_code == 404:
            raise NotFound(f"alertmanager at {self.url}: {what}: {said}", details)
        raise AdapterError(
            f"alertmanager at {self.url} refused to {what} ({response.status_code}): {said}",
            details,
        )

    def _json(self, response: httpx.Response, request: str) -> Any:
        try:
            return response.json()
        except ValueError:
            self._malformed(request, f"not JSON: {response.text[:200]!r}")

    def _malformed(self, request: str, why: str) -> NoReturn:
        raise AdapterUnavailable(
            f"alertmanager at {self.url} gave an answer to {request} that is not "
            f"Alertmanager's API v2: {why}",
            {"url": self.url, "request": request},
        )


def _message(response: httpx.Response) -> str:
    """Alertmanager's error text: a JSON string, or {"code", "message"}, or plain text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(body, str):
        return body.strip()[:500]
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])[:500]
    return json.dumps(body)[:500]
