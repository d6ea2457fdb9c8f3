"""Ed25519 key for signing audit checkpoints; the private key lives only in the state folder."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class Signer:
    """Signs and verifies short statements with one ed25519 key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key = base64.b64encode(raw).decode()

    @classmethod
    def load_or_create(cls, path: Path) -> Signer:
        """Read the key file, or create it with mode 0600 on first start."""
        if path.exists():
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(loaded, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an ed25519 private key")
            return cls(loaded)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return cls(key)

    def sign(self, message: str) -> str:
        """Base64 signature of a UTF-8 message."""
        return base64.b64encode(self._key.sign(message.encode())).decode()

    def verify(self, message: str, signature: str, public_key: str | None = None) -> bool:
        """True when the signature is ours (or the given public key's) over the message."""
        raw = base64.b64decode(public_key or self.public_key)
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(
                base64.b64decode(signature), message.encode()
            )
        except (InvalidSignature, ValueError):
            return False
        return True


def checkpoint_message(seq: int, head_hash: str, ts: str) -> str:
    """What a checkpoint signs."""
    return f"controlplane-audit-checkpoint:{seq}:{head_hash}:{ts}"
