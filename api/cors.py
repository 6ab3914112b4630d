"""CORS for the configured origins only, with refusals in the one error format."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware import cors
from starlette.requests import Request

from api.errors import error_response


class CORSMiddleware(cors.CORSMiddleware):
    """Starlette's CORS middleware, except that a refused preflight answers
    `{"error", "detail", "request_id"}` instead of plain text."""

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "origin" in headers and "access-control-request-method" in headers:
                response = self.preflight_response(request_headers=headers)
                if response.status_code == 400:
                    response = error_response(Request(scope), 400, "cors_refused",
                                              f"{response.body.decode()}; allowed origins are set by QA_CORS_ORIGINS")
                return await response(scope, receive, send)
        await super().__call__(scope, receive, send)
