"""Key pairs the app-store fakes issue to their test accounts (a Google service account, an App Store
Connect API key), so a client signs its JWTs for real and the fake verifies them with the public half."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[str, str]:
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def rsa_pair() -> tuple[str, str]:
    """(private PEM, public PEM): a service account's key, as Google issues them (RSA 2048)."""
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def p256_pair() -> tuple[str, str]:
    """(private PEM, public PEM): an App Store Connect API key (.p8, ES256 on P-256)."""
    return _pem(ec.generate_private_key(ec.SECP256R1()))
