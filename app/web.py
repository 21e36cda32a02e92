"""The pages bookrec serves itself: the reader app at /, the staff dashboard at /staff and
GraphiQL at /graphql, all from files in app/static/ (no CDN, no build step).

Every page is sent with a Content-Security-Policy that lets it load scripts, styles, fonts
and data from bookrec's own origin only (no inline script, no eval). The reader pages also
allow `https:` images: book covers are the catalog's `coverUrl`s, which point at the shop's
image host; when they cannot load (offline) the page shows a placeholder.

Caching: the vendored files (app/static/vendor/<package>@<version>/) never change under a
URL, so they are sent with `Cache-Control: public, max-age=31536000, immutable`; bookrec's
own files change with each release under the same URL, so they are revalidated
(`no-cache`, with the ETag that StaticFiles sends).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

_SELF_ONLY = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self' data:",  # GraphiQL's stylesheet embeds its fonts as data: URLs
    "connect-src": "'self'",
    "manifest-src": "'self'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


# GraphiQL's menus and dialogs (Radix, through react-remove-scroll-bar) insert one <style>
# element to lock the page's scrolling while they are open. Its text depends only on the
# page's scrollbar gap and body margins, which GraphiQL's page fixes (overflow hidden,
# margin 0), so it is always the same and allowed by its hash rather than 'unsafe-inline'.
# tests/browser checks that no CSP refusal happens when they open.
GRAPHIQL_STYLE_HASHES = ("'sha256-Y/huXlwoYkVyQlxwSVcCi1RCDGDCSVBzDt0hYP9qlTc='",)


def content_security_policy(cover_images: bool = False, style_hashes: tuple[str, ...] = ()) -> str:
    directives = dict(_SELF_ONLY)
    if cover_images:
        directives["img-src"] = "'self' data: https:"
    if style_hashes:
        directives["style-src"] = " ".join(("'self'", *style_hashes))
    return "; ".join(f"{name} {value}" for name, value in directives.items())


GRAPHIQL_CSP = content_security_policy(style_hashes=GRAPHIQL_STYLE_HASHES)
READER_CSP = content_security_policy(cover_images=True)
PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": REVALIDATE,
}


@cache
def _page(relative: str) -> str:
    return (STATIC_DIR / relative).read_text(encoding="utf-8")


def page_response(relative: str, csp: str) -> HTMLResponse:
    return HTMLResponse(_page(relative), headers={**PAGE_HEADERS, "Content-Security-Policy": csp})


def graphiql_response() -> HTMLResponse:
    return page_response("graphiql/index.html", GRAPHIQL_CSP)


class BookrecStatic(StaticFiles):
    """app/static/ with the cache headers above. With GraphiQL turned off, its files are
    not served either (the reader app needs none of them)."""

    def __init__(self, graphiql: bool) -> None:
        super().__init__(directory=STATIC_DIR)
        self.graphiql = graphiql

    async def get_response(self, path: str, scope: Scope) -> Response:
        top = Path(path).parts[0] if Path(path).parts else ""
        if not self.graphiql and top in ("vendor", "graphiql"):
            return Response("Not Found", status_code=404, media_type="text/plain")
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = IMMUTABLE if top == "vendor" else REVALIDATE
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def routes(graphiql: bool) -> list[Route | Mount]:
    async def reader(_: Request) -> Response:
        return page_response("reader/index.html", READER_CSP)

    async def staff(_: Request) -> Response:
        return page_response("staff/index.html", READER_CSP)

    return [
        Route("/", reader),
        Route("/staff", staff),
        Mount(STATIC_PREFIX, app=BookrecStatic(graphiql), name="static"),
    ]
