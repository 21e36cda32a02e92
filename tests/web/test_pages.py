"""The pages bookrec serves (app/web.py): where they are, their headers, what they load."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import sqlalchemy as sa

from app.web import IMMUTABLE, STATIC_DIR
from tests.support.api import Api, api_for

REPO = Path(__file__).resolve().parents[2]
PAGES = {"/": "reader/index.html", "/staff": "staff/index.html"}


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name) and tag in ("script", "link", "img"):
                self.urls.append(values[name] or "")
        if tag == "script" and not values.get("src"):
            self._in_script = True
        if tag == "style" or "style" in values:
            self.inline_styles += 1

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def assets(html: str) -> _Assets:
    parser = _Assets()
    parser.feed(html)
    return parser


def csp(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    header = response.headers["content-security-policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


async def test_every_page_loads_only_its_own_files_with_a_self_only_policy(api: Api) -> None:
    graphiql = await api.client.get("/graphql", headers={"accept": "text/html"})
    pages = {"/graphql": graphiql}
    for path in PAGES:
        pages[path] = await api.client.get(path)
    for path, page in pages.items():
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        found = assets(page.text)
        assert found.urls, path
        assert all(u.startswith("/static/") for u in found.urls), (path, found.urls)
        assert found.inline_scripts == 0 and found.inline_styles == 0, path
        policy = csp(page)
        assert policy["default-src"] == "'none'"
        for directive in ("script-src", "style-src", "connect-src", "font-src"):
            assert "http" not in policy[directive] and "unsafe" not in policy[directive], path
        assert policy["script-src"] == "'self'" and policy["connect-src"] == "'self'"
        assert re.fullmatch(r"'self'( 'sha256-[A-Za-z0-9+/=]+')*", policy["style-src"]), path
        assert policy["frame-ancestors"] == "'none'"
        # every file the page names is served
        for url in found.urls:
            assert (await api.client.get(url)).status_code == 200, url
    # GraphiQL allows images from itself only; the reader pages also covers over https
    assert csp(graphiql)["img-src"] == "'self' data:"
    assert csp(pages["/"])["img-src"] == "'self' data: https:"


async def test_vendored_files_are_immutable_and_the_apps_own_are_revalidated(api: Api) -> None:
    vendored = await api.client.get("/static/vendor/graphiql@3.8.3/graphiql.min.js")
    assert vendored.status_code == 200
    assert vendored.headers["cache-control"] == IMMUTABLE
    assert vendored.headers["content-type"].startswith("text/javascript")
    assert vendored.headers["x-content-type-options"] == "nosniff"
    own = await api.client.get("/static/reader/app.js")
    assert own.headers["cache-control"] == "no-cache" and own.headers.get("etag")
    again = await api.client.get(
        "/static/reader/app.js", headers={"if-none-match": own.headers["etag"]}
    )
    assert again.status_code == 304
    missing = await api.client.get("/static/reader/nothing.js")
    assert missing.status_code == 404
    escape = await api.client.get("/static/../settings.py")
    assert escape.status_code == 404


async def test_graphiql_turned_off_serves_neither_the_ide_nor_its_files(
    engine: sa.Engine, database_url: str, seed_catalog: None
) -> None:
    async with api_for(engine, database_url, graphiql=False) as api:
        assert (
            await api.client.get("/graphql", headers={"accept": "text/html"})
        ).status_code == 404
        vendored = await api.client.get("/static/vendor/react@18.2.0/react.production.min.js")
        assert vendored.status_code == 404
        assert (await api.client.get("/static/graphiql/start.js")).status_code == 404
        # the reader app does not need them and still works
        assert (await api.client.get("/")).status_code == 200
        assert (await api.client.get("/static/reader/app.js")).status_code == 200
        data = await api.ok("{ categories { name } }")
        assert data["categories"]


async def test_pages_can_be_turned_off(engine: sa.Engine, database_url: str) -> None:
    async with api_for(engine, database_url, web_pages=False) as api:
        assert (await api.client.get("/")).status_code == 404
        assert (await api.client.get("/staff")).status_code == 404
        assert (await api.client.get("/static/common/api.js")).status_code == 404


def test_the_pages_call_nothing_but_graphql() -> None:
    """The reader app is the example a shop's frontend reads: one endpoint, no private
    route. Every fetch in the pages' JavaScript goes to /graphql (GraphiQL's tour file aside)."""
    for script in STATIC_DIR.glob("[!v]*/*.js"):
        text = script.read_text()
        for target in re.findall(r"fetch\(\s*([^,)]+)", text):
            assert target.strip() in ('"/graphql"', '"/static/graphiql/tour.json"'), (
                script,
                target,
            )
        code = text.replace("http://www.w3.org/2000/svg", "")  # a namespace, not a URL
        assert "http://" not in code and "https://" not in code, script


def test_the_graphiql_tour_is_the_readmes() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## A tour in GraphiQL") : readme.index("## The API")]
    blocks = [
        "\n".join(
            line[3:] if line.startswith("   ") else line for line in block.rstrip().split("\n")
        )
        for block in re.findall(r"```graphql\n(.*?)```", section, re.S)
    ]
    tour = json.loads((STATIC_DIR / "graphiql" / "tour.json").read_text())
    assert [q for step in tour["steps"] for q in step["queries"]] == blocks
    assert len(tour["steps"]) == len(re.findall(r"\n\d\. ", section))


def test_vendored_files_match_their_manifest_and_licences() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "vendor_web.py"), "--offline"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((STATIC_DIR / "vendor" / "manifest.json").read_text())
    names = {(p["name"], p["version"]) for p in manifest["packages"]}
    assert names == {
        ("react", "18.2.0"),
        ("react-dom", "18.2.0"),
        ("graphiql", "3.8.3"),
        ("@graphiql/plugin-explorer", "1.0.2"),
    }
    for package in manifest["packages"]:
        assert "LICENSE" in package["files"]
        licence = (STATIC_DIR / "vendor" / package["directory"] / "LICENSE").read_text()
        assert "MIT License" in licence or "Permission is hereby granted" in licence
        # the page names each vendored file by its versioned path
    page = (STATIC_DIR / "graphiql" / "index.html").read_text()
    for package in manifest["packages"]:
        for filename in package["files"]:
            if filename != "LICENSE":
                assert f"/static/vendor/{package['directory']}/{filename}" in page


def test_every_static_file_ships_in_the_package() -> None:
    """pyproject's package-data globs cover every file of app/static (else an installed
    bookrec would serve 404s where the repository works)."""
    import fnmatch
    import tomllib

    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["app"]
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            relative = path.relative_to(STATIC_DIR.parent).as_posix()
            matched = [
                p
                for p in patterns
                if fnmatch.fnmatch(relative, p) and p.count("/") == relative.count("/")
            ]
            assert matched, f"{relative} is not in [tool.setuptools.package-data] app"
