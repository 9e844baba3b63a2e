"""The tool's key pair: the private key signs its OAuth2 requests, the JWKS goes to the LMS.

``eduproject lti keys -o lti-keys/`` writes ``private.pem`` (readable by you only),
``public.pem`` (Moodle's "Public key" field) and ``jwks.json`` (Canvas's "Public JWK", or a
keyset URL if you serve the file). The key id (``kid``) is the RFC 7638 thumbprint of the
public key, so the same key always has the same id::

    keys = make_keys(Path("lti-keys"))
    keys.kid, keys.jwk["kty"]                 # ('3q2+7w...', 'RSA')
    signer = load_signing_key(Path("lti-keys/private.pem"))
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eduproject.errors import ConfigError

PRIVATE = "private.pem"
PUBLIC = "public.pem"
JWKS = "jwks.json"


def _jwt() -> Any:
    try:
        import jwt
        from jwt.algorithms import RSAAlgorithm  # noqa: F401  (needs cryptography)
    except ImportError:
        raise ConfigError(
            "LTI needs PyJWT with its crypto extra", hint="pip install 'eduproject[lti]'"
        ) from None
    return jwt


@dataclass(frozen=True)
class SigningKey:
    """The tool's private key (PEM) and its public JWK (with ``kid``, ``alg``, ``use``)."""

    private_pem: bytes
    jwk: dict[str, Any]

    @property
    def kid(self) -> str:
        return str(self.jwk["kid"])

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk]}

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact RS256 JWT of ``claims`` with this key's ``kid`` in the header."""
        token: str = _jwt().encode(
            claims, self.private_pem, algorithm="RS256", headers={"kid": self.kid}
        )
        return token

    def __repr__(self) -> str:  # never show the private key
        return f"SigningKey(kid={self.kid!r})"


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint of an RSA public JWK (base64url SHA-256 of e, kty, n)."""
    canonical = json.dumps(
        {"e": jwk["e"], "kty": jwk["kty"], "n": jwk["n"]}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def public_jwk(public_key: Any) -> dict[str, Any]:
    from jwt.algorithms import RSAAlgorithm

    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    jwk = {"kty": jwk["kty"], "n": jwk["n"], "e": jwk["e"]}
    return {**jwk, "kid": thumbprint(jwk), "alg": "RS256", "use": "sig"}


def make_keys(folder: Path, *, force: bool = False) -> SigningKey:
    """A new RSA-2048 key pair in ``folder``; never replaces a key without ``force`` (the LMS
    knows the old public key: a new one must be registered again)."""
    _jwt()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_path = folder / PRIVATE
    if private_path.exists() and not force:
        raise ConfigError(
            f"{private_path} already exists",
            hint="the LMS knows its public key; pass --force only to make and register a new one",
        )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing = SigningKey(private_pem, public_jwk(key.public_key()))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(private_pem)
        private_path.chmod(0o600)
        (folder / PUBLIC).write_bytes(public_pem)
        (folder / JWKS).write_text(json.dumps(signing.jwks(), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot write the keys to {folder}: {exc.strerror}", hint="check -o"
        ) from None
    return signing


def load_signing_key(path: Path) -> SigningKey:
    """The tool's key from its private PEM file (``[lti] key``)."""
    _jwt()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the tool's private key {path}: {exc.strerror}",
            hint="make one with `eduproject lti keys -o lti-keys/` and set [lti] key",
        ) from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{path} is not an unencrypted PEM private key",
            hint="use the private.pem that `eduproject lti keys` wrote",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{path} is not an RSA key", hint="LTI 1.3 signs with RS256")
    return SigningKey(pem, public_jwk(key.public_key()))
