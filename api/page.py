"""GET /: the page to ask from. One static HTML page with plain JavaScript over the JSON API (no build step).

The page is open even when an API key is set: it holds no data, and asks for the key itself (kept in the
tab's sessionStorage, sent as X-API-Key). Its Content-Security-Policy allows only its own script and style,
so article text could not run as code even if it ever reached the page as markup (the script writes text only).
"""

from __future__ import annotations

import functools
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

STATIC = Path(__file__).resolve().parent / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'none'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-cache"}

page = APIRouter(include_in_schema=False)


@functools.cache
def _read(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def _file(name: str, media_type: str) -> Response:
    return Response(_read(name), media_type=media_type, headers=HEADERS)


@page.get("/")
def index() -> Response:
    return _file("index.html", "text/html; charset=utf-8")


@page.get("/static/page.js")
def script() -> Response:
    return _file("page.js", "text/javascript; charset=utf-8")


@page.get("/static/page.css")
def style() -> Response:
    return _file("page.css", "text/css; charset=utf-8")
