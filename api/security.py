"""Who may do what: an optional API key for every endpoint, an admin key for what changes state.

Keys are compared in constant time (hmac.compare_digest). A missing key is 401, a wrong key 403.
Admin endpoints are refused (403) when no admin key is configured: there is no open admin mode.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from qa.config import Settings

API_KEY_HEADER = "X-API-Key"
ADMIN_KEY_HEADER = "X-Admin-Key"

_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKey",
                        description="Needed on every endpoint but /healthz and /readyz when the server sets QA_API_KEY.")
_admin_key = APIKeyHeader(name=ADMIN_KEY_HEADER, auto_error=False, scheme_name="AdminKey",
                          description="Needed on /admin endpoints; the server sets it with QA_ADMIN_KEY or QA_ADMIN_KEY_FILE.")


class AuthError(Exception):
    """Raised by the key checks; api.errors turns it into 401 or 403 in the one error format."""

    def __init__(self, status: int, code: str, detail: str):
        self.status, self.code, self.detail = status, code, detail
        super().__init__(detail)


@dataclass(frozen=True, slots=True)
class Keys:
    api: tuple[bytes, ...]
    admin: tuple[bytes, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> "Keys":
        return cls(tuple(k.encode() for k in settings.keys("api_key")),
                   tuple(k.encode() for k in settings.keys("admin_key")))


def which(given: str, expected: tuple[bytes, ...]) -> int | None:
    """The position of the key `given` among `expected`, compared in constant time, or None."""
    raw, found = given.encode("utf-8", "surrogateescape"), None
    for n, key in enumerate(expected):  # no early exit: the time does not tell which key matched
        if hmac.compare_digest(raw, key):
            found = n
    return found


def client_id(scope: dict) -> str:
    """Who a request comes from, for rate limiting: its API key when valid, else its address."""
    keys: Keys = scope["app"].state.keys
    given = dict(scope["headers"]).get(API_KEY_HEADER.lower().encode())
    if given and keys.api:
        n = which(given.decode("latin-1"), keys.api)
        if n is not None:
            return f"key#{n}"
    client = scope.get("client")
    return f"addr:{client[0] if client else '-'}"


# Async (they compare a header with the keys, nothing blocks): FastAPI sends a plain `def` dependency
# through the thread pool, a hand-off to a worker thread and back on every request.
async def require_api_key(request: Request, key: Annotated[str | None, Security(_api_key)] = None) -> None:
    expected = request.app.state.keys.api
    if not expected:
        return
    if not key:
        raise AuthError(401, "unauthorized", f"this server needs an API key: send it in the {API_KEY_HEADER} header")
    if which(key, expected) is None:
        raise AuthError(403, "forbidden", f"the {API_KEY_HEADER} header does not hold a valid API key")


async def require_admin_key(request: Request, key: Annotated[str | None, Security(_admin_key)] = None) -> None:
    expected = request.app.state.keys.admin
    if not key:
        raise AuthError(401, "unauthorized", f"admin endpoints need the admin key in the {ADMIN_KEY_HEADER} header")
    if not expected:
        raise AuthError(403, "forbidden", "admin endpoints are disabled: the server has no QA_ADMIN_KEY or QA_ADMIN_KEY_FILE")
    if which(key, expected) is None:
        raise AuthError(403, "forbidden", f"the {ADMIN_KEY_HEADER} header does not hold the admin key")


ApiKey = Depends(require_api_key)
AdminKey = Depends(require_admin_key)
