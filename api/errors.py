"""One error format for every error: {"error": code, "detail": message, "request_id"}.

QAError subclasses map to statuses here and nowhere else. Validation errors never echo the input.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.security import AuthError
from qa import errors as qe

log = logging.getLogger(__name__)

STATUS = {
    qe.InvalidQuestion: 422,
    qe.DocumentNotFound: 404,
    qe.FeedbackError: 422,
    qe.InvalidDocument: 422,
    qe.DocumentExists: 409,
    qe.ModelError: 503,
    qe.IndexError_: 503,
}
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The id of the request being served, for log lines (it follows the request into worker threads).
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def request_id_of(scope_or_request) -> str:
    state = scope_or_request.scope.get("state", {}) if hasattr(scope_or_request, "scope") else scope_or_request.get("state", {})
    return state.get("request_id", "-")


class RequestIdMiddleware:
    """Gives every request an id (the client's X-Request-ID when well-formed) and echoes it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _REQUEST_ID_RE.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        REQUEST_ID.set(rid)

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = dict(message, headers=headers + [(b"x-request-id", rid.encode())])
            await send(message)

        await self.app(scope, receive, send_with_id)


def error_response(request: Request, status: int, code: str, detail: str, headers: dict | None = None) -> JSONResponse:
    rid = request_id_of(request)
    return JSONResponse({"error": code, "detail": detail, "request_id": rid}, status_code=status,
                        headers={"X-Request-ID": rid, **(headers or {})})


def _describe(errors: list[dict]) -> tuple[str, str]:
    """(code, message) naming each bad field without echoing its value."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return "invalid_json", "request body is not valid JSON; send a JSON object such as {\"question\": \"...\"}"
    parts = []
    for e in errors[:5]:
        # A field name is the client's too (an unknown key): cut it short, never echo a large input.
        loc = ".".join(_short(str(p)) for p in e.get("loc", ()) if p != "body") or "body"
        msg = e.get("msg", "invalid").removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "invalid_request", "; ".join(parts)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def allowed_methods(app: FastAPI, path: str) -> str | None:
    """Every method the schema lists for `path` (a route may be split across handlers, one per method)."""
    for template, operations in app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), path):
            return ", ".join(sorted(m.upper() for m in operations))
    return None


def install(app: FastAPI) -> None:
    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError):
        headers = {"WWW-Authenticate": "ApiKey"} if exc.status == 401 else None
        return error_response(request, exc.status, exc.code, exc.detail, headers)

    @app.exception_handler(qe.QAError)
    async def _qa_error(request: Request, exc: qe.QAError):
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 500)
        if status >= 500:
            log.error("request %s failed: %s", request_id_of(request), exc)
        retry = getattr(exc, "retry_after_s", None)  # a search engine that did not answer may later
        return error_response(request, status, exc.code, str(exc), {"Retry-After": str(retry)} if retry else None)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        code, detail = _describe(exc.errors())
        if code == "invalid_request" and "json" not in request.headers.get("content-type", "json"):
            detail += "; send the body as JSON with the header Content-Type: application/json"
        return error_response(request, 400 if code == "invalid_json" else 422, code, detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code, "http_error")
        headers, detail = getattr(exc, "headers", None), str(exc.detail)
        if exc.status_code == 405:
            allowed = allowed_methods(app, request.url.path) or (headers or {}).get("Allow", "")
            headers, detail = {"Allow": allowed}, f"{request.method} is not allowed here; use {allowed}"
        return error_response(request, exc.status_code, code, detail, headers)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception):
        log.exception("unhandled error in request %s", request_id_of(request))
        return error_response(request, 500, "internal_error",
                              "the server failed to answer; quote the request id when reporting it")
