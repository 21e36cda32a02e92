"""Browser tests: Playwright (PyPI) driving Debian's chromium, never a browser of its own,
against a real `bookrec serve` subprocess. Everything but 127.0.0.1 is unreachable from the
browser (`--host-resolver-rules`), and each page's requests are watched: one to anywhere
but the server fails the test.

chromium: $BOOKREC_TEST_CHROMIUM (what `make test` sets from scripts/chromium.sh), else
/usr/bin/chromium. Without it the tests skip, saying so."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from db.engine import make_engine
from tests.support.server import REPO, Server, bookrec_env, bookrec_server

SCREENSHOTS = REPO / "docs" / "screenshots"
SECRET = "browser-test-secret-key-0123456789abcdef"
BLOCK_OUTSIDE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
VIEWPORT = {"width": 1280, "height": 860}

# The tiny catalog's books are "Book N": titles and authors a person can read in the
# screenshots. Covers point at an image host the browser cannot reach: the placeholder shows.
TITLES = {
    1: ("The Ember Crown", "Mara Voss"),
    2: ("A Song of Glass Towers", "Ilya Brand"),
    3: ("The Last Wyvern", "Mara Voss"),
    4: ("Queen of the Salt Sea", "Tomas Oyelaran"),
    5: ("The Hollow Forest", "Ilya Brand"),
    6: ("Stormcaller", "Jun Arakawa"),
    7: ("The Seventh Gate", "Tomas Oyelaran"),
    8: ("Moonwright", "Jun Arakawa"),
    9: ("The Iron Library", "Elena Marsh"),
    10: ("Dragons of Ash", "Mara Voss"),
    11: ("The Silver Thread", "Elena Marsh"),
    12: ("Winter's Heir", "Ilya Brand"),
    13: ("Murder at Harrow Hall", "Agnes Pryor"),
    14: ("The Quiet Inspector", "Daniel Okafor"),
    15: ("Death on the Night Train", "Agnes Pryor"),
    16: ("The Locked Study", "Clara Wynn"),
    17: ("A Body in the Canal", "Daniel Okafor"),
    18: ("The Poisoned Pen", "Clara Wynn"),
    19: ("Seven Suspects", "Henrik Dahl"),
    20: ("The Vanishing Heiress", "Agnes Pryor"),
    21: ("Fog over Whitby", "Henrik Dahl"),
    22: ("The Orchid Case", "Clara Wynn"),
    23: ("Cold Harbour", "Daniel Okafor"),
    24: ("The Glass Alibi", "Henrik Dahl"),
    25: ("The Cartographer's Daughter", "Elena Marsh"),
    26: ("The Clockmaker's Secret", "Henrik Dahl"),
}


def password_of(username: str) -> str:
    return f"{username} reads books"


def chromium_path() -> str | None:
    configured = os.environ.get("BOOKREC_TEST_CHROMIUM", "").strip()
    if configured:
        return configured if Path(configured).is_file() else None
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


@dataclass
class Site:
    server: Server
    database_url: str
    engine: sa.Engine

    @property
    def url(self) -> str:
        return self.server.url

    def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
        )
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]  # type: ignore[no-any-return]

    def schema_has(self, type_name: str, field_name: str) -> bool:
        data = self.gql(
            "query($t: String!) { __type(name: $t) { fields { name } } }", {"t": type_name}
        )
        return field_name in {f["name"] for f in (data["__type"] or {}).get("fields") or []}

    def register(self, username: str, categories: list[str]) -> str:
        data = self.gql(
            "mutation($u: String!, $p: String!, $c: [ID!]!) { register(username: $u, password: $p, categoryIds: $c) { token } }",
            {"u": username, "p": password_of(username), "c": categories},
        )
        return data["register"]["token"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def site(
    trained_models: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """A `bookrec serve` over a copy of the tiny catalog and its two trained models."""
    source_url, models = trained_models
    root = tmp_path_factory.mktemp("browser-site")
    shutil.copy(source_url.removeprefix("sqlite:///"), root / "site.db")
    shutil.copytree(models, root / "models")
    url = f"sqlite:///{root / 'site.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        for book, (title, authors) in TITLES.items():
            conn.execute(
                sa.text(
                    "UPDATE book SET title = :t, authors = :a, year = :y, cover_url = :c WHERE id = :i"
                ),
                {
                    "t": title,
                    "a": authors,
                    "y": 1990 + book,
                    "c": f"https://covers.bookrec.invalid/{book}.jpg",
                    "i": book,
                },
            )
    env = bookrec_env(
        url, root / "models", SECRET, BOOKREC_ENV="development", BOOKREC_POPULARITY_TTL_SECONDS="1"
    )
    server = bookrec_server(env, root / "server.log", cwd=root).start()
    try:
        yield Site(server, url, engine)
    finally:
        server.stop()
        engine.dispose()


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip(
            "chromium is not installed (scripts/chromium.sh installs it with apt-get as root)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=[BLOCK_OUTSIDE])
        try:
            yield instance
        finally:
            instance.close()


@dataclass
class Watched:
    """A page whose requests to anywhere but the server are aborted and listed, and whose
    console errors (a Content-Security-Policy refusal among them) are kept."""

    page: Any
    outside: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    graphql_bodies: list[str] = field(default_factory=list)

    def csp_refusals(self) -> list[str]:
        return [
            m for m in self.console_errors if "Content Security Policy" in m or "Refused to" in m
        ]

    def screenshot(self, name: str, full_page: bool = True) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        toast = self.page.locator("#toast")
        if toast.count():  # a passing message would cover part of the page
            toast.evaluate("box => box.replaceChildren()")
        self.page.locator("html").evaluate("root => window.scrollTo(0, 0)")  # sticky header on top
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


@pytest.fixture
def watched(browser: Any, site: Site) -> Iterator[Watched]:
    context = browser.new_context(viewport=VIEWPORT, base_url=site.url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    state = Watched(page)

    def guard(route: Any) -> None:
        request = route.request
        if request.url.startswith(site.url):
            if request.url.endswith("/graphql") and request.method == "POST":
                state.graphql_bodies.append(request.post_data or "")
            route.continue_()
        else:
            if not request.url.startswith(("data:", "blob:")):
                state.outside.append(request.url)
            route.abort()

    context.route("**/*", guard)
    page.on("console", lambda m: state.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: state.console_errors.append(f"uncaught: {e}"))
    try:
        yield state
    finally:
        context.close()
