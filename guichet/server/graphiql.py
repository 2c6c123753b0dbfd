"""GraphiQL at GET /graphql, served with its own assets: no CDN, it works offline.

The page loads GraphiQL 3 (its standalone UMD build), React and ReactDOM 18 from
ASSETS_PATH, files vendored in static/graphiql/ by tools/vendor-graphiql.sh (versions and
licences are in that folder). It answers with a Content-Security-Policy that names no other
host: scripts from the same origin only (the start-up code is a served file, not an inline
script), styles from the same origin plus inline styles (GraphiQL's React components set
them), fonts and images from the same origin or data: URLs (GraphiQL's CSS embeds them),
and requests to the same origin only, over HTTP and websocket (subscriptions).

Asset URLs carry a digest of the file (`?v=…`): with the current digest a response may be
cached for a year; otherwise it must be revalidated (StaticFiles answers ETag and
Last-Modified, and 304 to a matching If-None-Match).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

ASSETS_PATH = "/graphiql-assets"
STATIC_DIR = Path(__file__).parent / "static" / "graphiql"

STYLES = ("graphiql.min.css", "guichet-graphiql.css")
# In this order: GraphiQL's UMD build takes React and ReactDOM as globals, and the
# start-up script takes all three.
SCRIPTS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "guichet-graphiql.js",
)

MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
TEXT = "text/plain; charset=utf-8"  # README, licences
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

# A Host header we may repeat in the policy: a DNS name or an IP address, and a port.
_HOST = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
    r"|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?"
)


@dataclass(frozen=True)
class Asset:
    name: str
    version: str  # a digest of the content, for cache busting
    integrity: str  # the Subresource Integrity value

    def url(self, root_path: str = "") -> str:
        return f"{root_path}{ASSETS_PATH}/{self.name}?v={self.version}"


@cache
def assets() -> dict[str, Asset]:
    """The page's assets by file name, digests computed once per process."""
    found = {}
    for name in (*STYLES, *SCRIPTS):
        content = (STATIC_DIR / name).read_bytes()
        sha384 = base64.b64encode(hashlib.sha384(content).digest()).decode()
        found[name] = Asset(name, hashlib.sha256(content).hexdigest()[:16], f"sha384-{sha384}")
    return found


def content_security_policy(host: str | None) -> str:
    """The page's policy. `host` is the request's Host header: named (for websockets,
    which some browsers do not count as 'self') only when it is a plain host[:port]."""
    connect = ["'self'"]
    if host and _HOST.fullmatch(host.lower()):
        connect += [f"ws://{host.lower()}", f"wss://{host.lower()}"]
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data:",
        "font-src": "'self' data:",
        "connect-src": " ".join(connect),
        "worker-src": "'none'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def page_html(root_path: str = "") -> str:
    root = html.escape(root_path, quote=True)
    found = assets()
    styles = "\n".join(
        f'    <link rel="stylesheet" href="{found[name].url(root)}"'
        f' integrity="{found[name].integrity}" />'
        for name in STYLES
    )
    scripts = "\n".join(
        f'    <script src="{found[name].url(root)}" integrity="{found[name].integrity}"></script>'
        for name in SCRIPTS
    )
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Guichet · GraphiQL</title>
    <link rel="icon" href="data:," />
{styles}
  </head>
  <body>
    <div id="graphiql">
      <noscript><p class="guichet-noscript">GraphiQL needs JavaScript.</p></noscript>
    </div>
{scripts}
  </body>
</html>
"""


def graphiql_page(request: Request) -> HTMLResponse:
    """The IDE page, for a GET /graphql that accepts text/html."""
    return HTMLResponse(
        page_html(request.scope.get("root_path", "")),
        headers={
            "Content-Security-Policy": content_security_policy(request.headers.get("host")),
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
            "Vary": "Accept",  # the same URL answers JSON to API clients
        },
    )


class GraphiQLAssets(StaticFiles):
    """The vendored files (StaticFiles: GET and HEAD, no directory listing, no path
    outside the folder), with explicit content types and caching headers."""

    def __init__(self) -> None:
        super().__init__(directory=STATIC_DIR)
        assets()  # read and digested at start: a missing file stops the app there

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        asset = assets().get(path)
        asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v", [None])[0]
        current = asset is not None and asked == asset.version
        response.headers["Cache-Control"] = IMMUTABLE if current else REVALIDATE
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if response.status_code == 200:
            response.headers["Content-Type"] = MEDIA_TYPES.get(PurePosixPath(path).suffix, TEXT)
        return response
