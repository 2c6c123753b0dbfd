"""GraphiQL at GET /graphql works offline: Guichet serves its assets, and its page's
Content-Security-Policy names no other host. The last test drives a real headless
Chromium (Playwright) that may not reach any other host."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from guichet.server.graphiql import ASSETS_PATH, content_security_policy
from tests.services import missing

HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
KEYWORDS = {"'self'", "'none'", "'unsafe-inline'", "data:"}


class _Assets(HTMLParser):
    """The script and stylesheet URLs of a page, with their integrity values."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str | None]] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            if a.get("src"):
                self.found.append((a["src"], a.get("integrity")))
            else:
                self._in_script = True
        elif tag == "link" and a.get("rel") == "stylesheet":
            self.found.append((a["href"], a.get("integrity")))

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


def page_assets(html: str) -> _Assets:
    parser = _Assets()
    parser.feed(html)
    return parser


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def assert_names_no_other_host(policy: str, host: str) -> None:
    for name, sources in directives(policy).items():
        for source in sources:
            if source in KEYWORDS:
                continue
            assert source in (f"ws://{host}", f"wss://{host}"), (name, source)
            assert name == "connect-src", (name, source)


# ---------------------------------------------------------------- in process


async def test_the_page_comes_with_a_policy_naming_no_other_host(gql):
    response = await gql.http.get("/graphql", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["vary"] == "Accept"
    policy = response.headers["content-security-policy"]
    assert_names_no_other_host(policy, "guichet.test")
    rules = directives(policy)
    assert rules["default-src"] == ["'self'"]
    assert rules["script-src"] == ["'self'"]
    assert rules["style-src"] == ["'self'", "'unsafe-inline'"]
    assert rules["connect-src"] == ["'self'", "ws://guichet.test", "wss://guichet.test"]
    assert rules["frame-ancestors"] == ["'none'"]
    # Everything the page runs comes from a file: there is no inline script to allow.
    assert page_assets(response.text).inline_scripts == 0
    assert "http://" not in response.text and "https://" not in response.text
    assert "//" not in "".join(src for src, _ in page_assets(response.text).found)


async def test_every_asset_of_the_page_is_served_by_the_app(gql):
    page = await gql.http.get("/graphql", headers=HTML)
    assets = page_assets(page.text).found
    assert len(assets) == 6
    kinds = set()
    for url, integrity in assets:
        assert url.startswith(f"{ASSETS_PATH}/"), url
        response = await gql.http.get(url)
        assert response.status_code == 200, url
        kind = response.headers["content-type"]
        assert kind in ("text/javascript; charset=utf-8", "text/css; charset=utf-8"), (url, kind)
        kinds.add(kind)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["etag"]
        digest = base64.b64encode(hashlib.sha384(response.content).digest()).decode()
        assert integrity == f"sha384-{digest}", url
        # Nothing in them is fetched from a CDN at run time.
        for cdn in (b"//unpkg.com", b"//cdn.jsdelivr.net", b"//cdnjs.cloudflare.com"):
            assert cdn not in response.content, (url, cdn)
    assert len(kinds) == 2


async def test_assets_revalidate_and_stay_in_their_folder(gql):
    plain = await gql.http.get(f"{ASSETS_PATH}/graphiql.min.css")
    assert plain.status_code == 200
    assert plain.headers["cache-control"] == "no-cache"  # no digest in the URL
    again = await gql.http.get(
        f"{ASSETS_PATH}/graphiql.min.css", headers={"if-none-match": plain.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""

    licence = await gql.http.get(f"{ASSETS_PATH}/LICENSE.graphiql")
    assert licence.status_code == 200
    assert licence.headers["content-type"] == "text/plain; charset=utf-8"
    assert "MIT" in licence.text

    for path in (
        f"{ASSETS_PATH}/%2e%2e/graphiql.py",
        f"{ASSETS_PATH}/%2e%2e%2f%2e%2e%2fapp.py",
        f"{ASSETS_PATH}/..%5cgraphiql.py",
        f"{ASSETS_PATH}/",
        f"{ASSETS_PATH}/nothing.js",
    ):
        response = await gql.http.get(path)
        assert response.status_code in (404, 405), path
        assert b"import" not in response.content, path


def test_a_strange_host_header_is_not_repeated_in_the_policy():
    assert "ws://guichet.example:8443" in content_security_policy("Guichet.Example:8443")
    assert "ws://[::1]:8000" in content_security_policy("[::1]:8000")
    for host in ("evil.test; script-src *", "a b", "x'y", "", None):
        policy = content_security_policy(host)
        assert "ws://" not in policy
        assert_names_no_other_host(policy, "unused")


# ---------------------------------------------------------------- in a real browser


def _chromium() -> str:
    for candidate in (
        os.environ.get("GUICHET_TEST_CHROMIUM"),
        shutil.which("chromium"),
        "/usr/bin/chromium",
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    _missing("Chromium is not installed (apt-get install chromium)")
    raise AssertionError  # unreachable: _missing skips or fails


def _missing(reason: str) -> None:
    if os.environ.get("GUICHET_TEST_REQUIRE_SERVICES", "").strip() == "1":
        pytest.fail(f"{reason} (GUICHET_TEST_REQUIRE_SERVICES=1)")
    missing("chromium", reason)


QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESULT = ".result-window .CodeMirror"
SET_VALUE = "([selector, text]) => document.querySelector(selector).CodeMirror.setValue(text)"
GET_VALUE = "(selector) => document.querySelector(selector).CodeMirror.getValue()"
SUBSCRIPTION = "subscription Live { notifications { kind } }"
READY_TO_RUN = """([selector, operation]) => {
    const button = document.querySelector(".graphiql-execute-button");
    return document.querySelector(selector).CodeMirror.operationName === operation
        && button !== null && !button.hasAttribute("aria-haspopup");
}"""


async def test_graphiql_runs_a_query_with_a_bearer_token_offline(live_server, agent):
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _missing("Playwright is not installed (pip install playwright)")
    executable = _chromium()
    base = f"http://{live_server}"
    elsewhere: list[str] = []
    problems: list[str] = []

    sent: list[str] = []
    acknowledged = asyncio.Event()

    def watch(ws) -> None:
        if urlsplit(ws.url).netloc != live_server:
            elsewhere.append(ws.url)
        ws.on("framesent", lambda payload: sent.append(str(payload)))
        ws.on(
            "framereceived",
            lambda payload: "connection_ack" in str(payload) and acknowledged.set(),
        )

    async def only_this_server(route):
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).netloc == live_server:
            await route.continue_()
        else:
            elsewhere.append(url)
            await route.abort()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            context = await browser.new_context()
            context.set_default_timeout(10_000)
            await context.route("**/*", only_this_server)
            page = await context.new_page()
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on(
                "console",
                lambda message: message.type == "error" and problems.append(message.text),
            )
            page.on("websocket", watch)

            response = await page.goto(f"{base}/graphql")
            assert response is not None and response.status == 200
            assert_names_no_other_host(response.headers["content-security-policy"], live_server)

            await page.wait_for_selector(QUERY_EDITOR)
            await page.evaluate(SET_VALUE, [QUERY_EDITOR, "query Me { me { name } }"])
            await page.wait_for_selector(HEADERS_EDITOR)
            headers = f'{{"Authorization": "Bearer {agent.token}"}}'
            await page.evaluate(SET_VALUE, [HEADERS_EDITOR, headers])
            # GraphiQL parses the query 100 ms after a change; until it has re-rendered,
            # the button may still offer to choose among the default query's operations.
            await page.wait_for_function(READY_TO_RUN, arg=[QUERY_EDITOR, "Me"])
            await page.click(".graphiql-execute-button")
            await page.wait_for_function(
                "([selector, name]) => document.querySelector(selector)"
                "?.CodeMirror.getValue().includes(name)",
                arg=[RESULT, agent.row.name],
            )
            result = await page.evaluate(GET_VALUE, RESULT)

            # A subscription goes over a websocket to the same origin, the headers pane's
            # token in its connection_init payload: the server acknowledges it.
            await page.evaluate(SET_VALUE, [QUERY_EDITOR, SUBSCRIPTION])
            await page.wait_for_function(READY_TO_RUN, arg=[QUERY_EDITOR, "Live"])
            await page.click(".graphiql-execute-button")
            await asyncio.wait_for(acknowledged.wait(), 10)
        finally:
            await browser.close()

    assert '"name": "Agnès Agent"' in result, result
    init = json.loads(sent[0])
    assert init == {
        "type": "connection_init",
        "payload": {"Authorization": f"Bearer {agent.token}"},
    }
    assert elsewhere == []
    assert problems == []
