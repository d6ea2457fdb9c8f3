"""What the GCP secret store keeps in a secret's annotations: the plane's records, pure.

    cp-v-<N>   = <fingerprint>[;revoked]    a version's fingerprint, and its revoked mark
    cp-k-<tag> = <N>                        the version a rotation made or a revoke marked
               | pending:<newest>:<fp>      a rotation's intent, written before its add

GCP allows 16 KiB of annotations per secret, so records about versions older than the newest
KEEP_VERSIONS are dropped (about 7 KiB at most); annotations that are not the plane's are kept.
"""

from __future__ import annotations

import hashlib

KEEP_VERSIONS = 100
_VERSION, _KEY, _PENDING, _REVOKED = "cp-v-", "cp-k-", "pending:", ";revoked"


def record_key(name: str, idempotency_key: str) -> str:
    """The annotation naming what one (secret, idempotency key) did."""
    return _KEY + hashlib.sha256(f"{name}\0{idempotency_key}".encode()).hexdigest()[:32]


def version_key(number: int) -> str:
    """The annotation holding version `number`'s fingerprint."""
    return f"{_VERSION}{number}"


def version_note(value_fp: str, *, revoked: bool = False) -> str:
    return value_fp + (_REVOKED if revoked else "")


def read_version(notes: dict[str, str], number: int) -> tuple[str, bool]:
    """The recorded fingerprint of version `number` ("" when none) and whether it is revoked."""
    note = notes.get(version_key(number), "")
    return note.removesuffix(_REVOKED), note.endswith(_REVOKED)


def pending_note(newest: int, value_fp: str) -> str:
    return f"{_PENDING}{newest}:{value_fp}"


def made_version(note: str) -> int | None:
    """The version a finished record names."""
    return int(note) if note.isdigit() else None


def pending(note: str) -> tuple[int, str] | None:
    """(newest version when the intent was written, fingerprint of the value being added)."""
    if not note.startswith(_PENDING):
        return None
    newest, value_fp = note.removeprefix(_PENDING).split(":")
    return int(newest), value_fp


def pruned(notes: dict[str, str]) -> dict[str, str]:
    """Drop the plane's records about versions older than the newest KEEP_VERSIONS."""
    numbers = [int(k[5:]) for k in notes if k.startswith(_VERSION) and k[5:].isdigit()]
    floor = max(numbers, default=0) - KEEP_VERSIONS
    kept = {}
    for key, note in notes.items():
        if key.startswith(_VERSION) and key[5:].isdigit() and int(key[5:]) <= floor:
            continue
        if key.startswith(_KEY) and note.isdigit() and int(note) <= floor:
            continue
        kept[key] = note
    return kept
