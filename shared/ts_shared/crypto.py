"""Secrets inside events (temporary passwords, link tokens) travel encrypted with the event key
(TS_EVENT_KEY, a Fernet key shared by the producer and the notifier): never in clear on the
broker, in the outbox or in the dead-letter queues."""
from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class SecretBoxError(ValueError):
    pass


class SecretBox:
    def __init__(self, key: str):
        try:
            self._fernet = Fernet(key.encode() if isinstance(key, str) else key)
        except (ValueError, TypeError):
            raise SecretBoxError("TS_EVENT_KEY is not a Fernet key (32 url-safe base64-encoded bytes)") from None

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SecretBoxError("sealed value altered or sealed with another key") from None
