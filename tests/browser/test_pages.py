"""The pages in a real browser: GraphiQL offline, a reader's first session, similar books,
and /staff for readers and staff. Screenshots of each page go to docs/screenshots/."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TITLES, Site, Watched, password_of
from tests.support.api import make_staff

pytestmark = pytest.mark.slow

COVER_HOST = "https://covers.bookrec.invalid/"


def only_covers_went_outside(watched: Watched) -> None:
    assert all(url.startswith(COVER_HOST) for url in watched.outside), watched.outside


# Console errors that are not faults: a cover the blocked network could not fetch, and
# react-remove-scroll-bar's note that GraphiQL's page never scrolls (overflow: hidden).
EXPECTED_CONSOLE = ("Failed to load resource", "react-remove-scroll-bar: cannot calculate")


def page_errors(watched: Watched) -> list[str]:
    return [m for m in watched.console_errors if not m.startswith(EXPECTED_CONSOLE)]


def card_ids(page: Any, selector: str) -> list[str]:
    return page.locator(f"{selector} .card").evaluate_all(
        "cards => cards.map(c => c.dataset.bookId)"
    )


def sign_in(page: Any, username: str, password: str) -> None:
    page.goto("/#/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_text(f"Signed in as {username}").wait_for()


def test_graphiql_loads_offline_and_runs_a_query(watched: Watched) -> None:
    page = watched.page
    response = page.goto("/graphql")
    assert response is not None and response.ok
    page.locator(".graphiql-execute-button").wait_for()
    assert page.get_by_role("tab", name=re.compile("NewReader")).count() == 1  # the tour's tabs
    page.locator(".graphiql-query-editor").get_by_text("SignUp1").wait_for()
    menu_item = page.get_by_role("menuitem", name="SignUp1")
    for _ in range(5):  # two operations in the tab: the run button opens a menu to choose
        page.locator(".graphiql-execute-button").click()
        try:
            menu_item.wait_for(timeout=3000)
            break
        except Exception:  # clicked before the editor had parsed the document: again
            page.keyboard.press("Escape")
    menu_item.click()
    result = page.locator(".result-window")
    result.get_by_text('"bookCount"').first.wait_for()
    shown = result.inner_text()
    assert '"Fantasy"' in shown and '"errors"' not in shown
    watched.screenshot("graphiql", full_page=False)
    page.get_by_role("button", name="Open settings dialog").click()  # a dialog: scroll lock
    page.get_by_role("dialog").wait_for()
    page.keyboard.press("Escape")
    assert watched.outside == [], "GraphiQL reached outside bookrec's origin"
    assert watched.csp_refusals() == [] and page_errors(watched) == []


def test_a_new_reader_signs_up_rates_three_books_and_sees_the_list_change(
    watched: Watched, site: Site
) -> None:
    page = watched.page
    page.goto("/#/signup")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_label("Fantasy").check()
    watched.screenshot("signup")
    page.get_by_role("button", name="Sign up", exact=True).click()

    home = page.locator("[data-list=main]")
    home.locator(".card").first.wait_for()
    sources = home.locator(".badge").evaluate_all("bs => bs.map(b => b.title)")
    assert set(sources) <= {"CATEGORY_POPULAR", "POPULAR"} and sources[0] == "CATEGORY_POPULAR"
    first_fantasy = {str(b) for b in range(1, 13)} | {"25"}
    before = card_ids(page, "[data-list=main]")
    assert before[0] in first_fantasy  # picks of the category chosen at sign-up
    assert page.get_by_text("Because you rated").count() == 0
    watched.screenshot("home-new-reader", full_page=False)

    rated = []
    for stars in (5, 4.5, 5):
        card = home.locator(".card").first
        rated.append(card.get_attribute("data-book-id"))
        card.locator("a.title").click()
        page.get_by_role("button", name=f"Rate {stars} stars").click()
        page.locator(f"[data-my-rating='{stars:g}']").wait_for()
        page.get_by_role("link", name="Home").click()
        home.locator(".card").first.wait_for()
    assert len(set(rated)) == 3
    opens = [json.loads(b) for b in watched.graphql_bodies if "openBook" in b]
    assert [o["variables"]["bookId"] for o in opens] == rated  # each open told to the API
    assert all(o["variables"]["listId"] for o in opens)

    after = card_ids(page, "[data-list=main]")
    assert after != before and not set(rated) & set(after)  # rated books are never offered
    sources = home.locator(".badge").evaluate_all("bs => bs.map(b => b.title)")
    assert "FOLD_IN" in sources  # a reader the model never saw: folded in from the ratings
    because = home.locator(".why a").all_inner_texts()
    assert because and set(because) <= {TITLES[int(b)][0] for b in rated}
    watched.screenshot("home")

    page.get_by_role("button", name="More").first.click()
    home.locator(".card").nth(12).wait_for()  # (the page's CSP forbids wait_for_function's eval)
    shown = card_ids(page, "[data-list=main]")
    assert len(shown) == len(set(shown)), "a continued list repeated a book"
    assert page.locator(".shelf-tabs button[aria-pressed=true]").inner_text() == "Fantasy"

    unwanted = home.locator(".card").first.get_attribute("data-book-id")  # "not for me"
    home.locator(".card").first.locator("a.title").click()
    page.get_by_role("button", name="Not for me").click()
    page.locator("button[aria-pressed=true]", has_text="Not for me").wait_for()
    page.get_by_role("link", name="Home").click()
    home.locator(".card").first.wait_for()
    page.wait_for_load_state("networkidle")
    assert unwanted not in card_ids(page, "[data-list]")
    only_covers_went_outside(watched)
    assert watched.csp_refusals() == [] and page_errors(watched) == []


def test_a_book_page_shows_similar_books(watched: Watched, site: Site) -> None:
    page = watched.page
    page.goto("/#/book/3")
    page.get_by_role("heading", name=TITLES[3][0]).wait_for()
    similar = page.locator("[data-list=similar] .card")
    similar.first.wait_for()
    ids = card_ids(page, "[data-list=similar]")
    assert "3" not in ids and len(ids) >= 3
    assert sum(1 for b in ids if int(b) <= 12) > len(ids) / 2  # mostly fantasy, like book 3
    assert page.get_by_text("Sign in to rate this book").count() == 1  # anonymous
    watched.screenshot("book")
    first = similar.first.locator("a.title")
    title = first.inner_text()
    first.click()
    page.get_by_role("heading", name=title).wait_for()

    page.goto("/#/books?search=mara")
    page.get_by_text("3 books").wait_for()
    titles = page.locator(".card a.title").all_inner_texts()
    assert sorted(titles) == sorted(t for t, a in TITLES.values() if a == "Mara Voss")
    # The cover host is unreachable here: each cover falls back to a placeholder when its
    # image fails, which may come after the titles are on the page (so wait for it).
    expect(page.locator(".placeholder")).to_have_count(3)
    watched.screenshot("catalog")
    only_covers_went_outside(watched)
    assert page_errors(watched) == []


def test_a_reader_opening_staff_gets_nothing_staff_only(watched: Watched, site: Site) -> None:
    site.register("rita", ["2"])
    page = watched.page
    page.goto("/#/signin")  # a wrong password first: the API's refusal, in plain words
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill("not her password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("alert").get_by_text("Unknown username or wrong password.").wait_for()
    sign_in(page, "rita", password_of("rita"))
    page.wait_for_load_state("networkidle")  # the home page's own calls are over
    watched.graphql_bodies.clear()
    page.goto("/staff")
    page.get_by_role("heading", name="Staff only").wait_for()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", name="Model versions").count() == 0
    assert page.get_by_role("navigation", name="Dashboard sections").count() == 0  # hidden
    asked = [json.loads(body)["query"] for body in watched.graphql_bodies]
    assert asked and all(re.fullmatch(r"\{ me \{ username isStaff \} \}", q) for q in asked), asked
    watched.screenshot("staff-reader", full_page=False)
    # and the API itself refuses a reader, whatever a page does
    token = site.register("rita2", [])
    import httpx

    body = httpx.post(
        f"{site.url}/graphql",
        json={"query": "{ modelVersions { version } }"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_the_staff_dashboard_shows_what_this_server_offers(watched: Watched, site: Site) -> None:
    site.register("grace", [])
    make_staff(site.engine, "grace")
    page = watched.page
    sign_in(page, "grace", password_of("grace"))
    page.goto("/staff")
    page.get_by_role("heading", name="Staff dashboard").wait_for()
    page.wait_for_selector("main[data-ready=staff]")
    sections = {
        "models": ("Query", "modelVersions"),
        "catalog": ("Mutation", "addBook"),
        "online": ("Query", "onlineMetrics"),
        "experiment": ("Query", "experiment"),
        "training": ("Query", "trainingRuns"),
    }
    for section, (type_name, field_name) in sections.items():
        assert site.schema_has(type_name, field_name), (type_name, field_name)
        text = page.locator(f"#{section}").inner_text()
        assert "not available" not in text, (section, text)
        assert "went wrong" not in text
    models = page.locator("#models")
    assert "v0002 (current)" in models.inner_text()
    assert models.locator("[data-loss-curve] polyline").count() >= 2
    watched.screenshot("staff")
    page.once("dialog", lambda dialog: dialog.accept())  # "Make the version before ...?"
    models.get_by_role("button", name="Roll back to the previous version").click()
    page.get_by_text("v0001 is now current").wait_for()
    models.locator(".current", has_text="v0001 (current)").wait_for()
    assert page_errors(watched) == []


def test_staff_add_and_hide_books_and_readers_see_both(watched: Watched, site: Site) -> None:
    site.register("hedy", [])
    make_staff(site.engine, "hedy")
    reader = site.register("reader-poetry", ["3"])
    page = watched.page
    sign_in(page, "hedy", password_of("hedy"))
    page.goto("/staff")
    catalog = page.locator("#catalog")
    catalog.get_by_role("button", name="Add a book").click()
    form = page.get_by_role("form", name="Add a book")
    form.get_by_label("Title").fill("Odes to the Tide")
    form.get_by_label("Authors").fill("Niamh Corr")
    form.get_by_label("Year").fill("2024")
    form.get_by_label("Poetry").check()
    form.get_by_role("button", name="Add the book").click()
    page.get_by_text("Added “Odes to the Tide”").wait_for()

    hidden_title = TITLES[20][0]  # the most liked mystery: on every popular list
    catalog.get_by_label("Find a book").fill(hidden_title)
    catalog.get_by_role("button", name="Search").click()
    catalog.get_by_role("button", name=f"Hide {hidden_title}").click()
    catalog.get_by_role("button", name=f"Unhide {hidden_title}").wait_for()
    watched.screenshot("staff-catalog")

    found = site.gql('{ books(first: 50, search: "Odes") { edges { node { id title } } } }')[
        "books"
    ]["edges"]
    assert [e["node"]["title"] for e in found] == ["Odes to the Tide"]
    assert (
        site.gql('{ books(first: 50, search: "Vanishing") { totalCount } }')["books"]["totalCount"]
        == 0
    )

    # the reader's catalog and lists in the browser
    page.evaluate("token => localStorage.setItem('bookrec.token', token)", reader)
    page.goto("/#/books?search=odes")
    page.get_by_text("1 book", exact=True).wait_for()
    assert page.locator(".card a.title").all_inner_texts() == ["Odes to the Tide"]
    page.goto("/#/books?search=vanishing")
    page.get_by_text("No book matches").wait_for()
    page.goto("/#/")
    page.locator("[data-list=main] .card").first.wait_for()
    for _ in range(20):  # the popularity snapshot is refreshed every second here
        page.reload()
        page.get_by_role("heading", name="Shelves").wait_for()
        page.wait_for_load_state("networkidle")
        shown = page.locator("[data-list] .card a.title").all_inner_texts()
        if "Odes to the Tide" in shown:
            break
        page.wait_for_timeout(500)
    assert "Odes to the Tide" in shown  # the Poetry reader's only book of Poetry
    assert hidden_title not in shown
