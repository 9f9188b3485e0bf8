"""Short-lived credentials for functions: what a function's boto3 signs its calls to gureum with.

Like the credentials Lambda hands a function's execution role, they are the function's own
(a key names the function it was issued to), carry a session token, and expire; gureum keeps them
in memory only (instances do not outlive the server that started them).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from .clock import Clock

LIFETIME_S = 12 * 3600
# A function's instances started after this get a fresh key; older ones keep theirs until expiry.
RENEW_AFTER_S = 6 * 3600
_KEY_ALPHABET = string.ascii_uppercase + "234567"


@dataclass(frozen=True, slots=True)
class SessionKey:
    key_id: str
    secret: str
    token: str
    function: str
    expires: float


class SessionKeys:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.by_id: dict[str, SessionKey] = {}
        self.current: dict[str, SessionKey] = {}  # function -> its newest key

    def for_function(self, function: str) -> SessionKey:
        now = self.clock.time()
        key = self.current.get(function)
        if key is None or key.expires - now < LIFETIME_S - RENEW_AFTER_S:
            key = SessionKey(
                key_id="ASIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
                secret=secrets.token_urlsafe(30),
                token=secrets.token_urlsafe(48),
                function=function,
                expires=now + LIFETIME_S,
            )
            self.current[function] = key
            self.by_id[key.key_id] = key
            self._forget_expired(now)
        return key

    def secret_for(self, key_id: str) -> str | None:
        """The secret of a live key (for the SigV4 check), or None."""
        key = self.by_id.get(key_id)
        if key is None or key.expires <= self.clock.time():
            return None
        return key.secret

    def _forget_expired(self, now: float) -> None:
        for key_id in [k for k, key in self.by_id.items() if key.expires <= now]:
            del self.by_id[key_id]
