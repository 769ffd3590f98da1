"""KMS envelope for Box tokens: ciphertext at rest, bound to its connection by the encryption context."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from boxcasb.models import TokenSet

_PURPOSE = "box-oauth-tokens"


def encryption_context(connection_id: str) -> dict[str, str]:
    # A ciphertext copied onto another connection's item fails to decrypt: the context won't match.
    return {"boxcasb:connection_id": connection_id, "boxcasb:purpose": _PURPOSE}


class TokenCipher:
    def __init__(self, kms: Any, key_arn: str) -> None:
        self._kms = kms
        self._key_arn = key_arn

    def encrypt(self, connection_id: str, tokens: TokenSet) -> bytes:
        plaintext = json.dumps(
            {
                "access_token": tokens.access_token.get_secret_value(),
                "refresh_token": tokens.refresh_token.get_secret_value(),
                "access_expires_at": tokens.access_expires_at.isoformat(),
                "issued_at": tokens.issued_at.isoformat(),
            }
        ).encode()
        answer = self._kms.encrypt(
            KeyId=self._key_arn,
            Plaintext=plaintext,
            EncryptionContext=encryption_context(connection_id),
        )
        return bytes(answer["CiphertextBlob"])

    def decrypt(self, connection_id: str, ciphertext: bytes) -> TokenSet:
        answer = self._kms.decrypt(
            KeyId=self._key_arn,
            CiphertextBlob=ciphertext,
            EncryptionContext=encryption_context(connection_id),
        )
        data = json.loads(answer["Plaintext"])
        return TokenSet(
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
            access_expires_at=datetime.fromisoformat(data["access_expires_at"]),
            issued_at=datetime.fromisoformat(data["issued_at"]),
        )
