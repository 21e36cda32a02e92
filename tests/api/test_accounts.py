"""Account self-service: changePassword (every other token of the account stops working,
whichever process cached it), deleteAccount (no row of the reader is left, in any table
that references app_user, found from the live database), and `bookrec user export`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.cli import main
from tests.support.api import Api, api_for
from tests.support.ownership import reflect, remaining, rows_naming, rows_of_reader

PASSWORD = "correct horse"
CHANGE = (
    "mutation($o: String!, $n: String!) { changePassword(oldPassword: $o, newPassword: $n) "
    "{ token user { username } } }"
)
DELETE = "mutation($p: String!) { deleteAccount(password: $p) }"
LOGIN = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }"
ME = "{ me { username } }"
# Every way a token reaches the reader's data: each must refuse a revoked token.
READS = [
    ME,
    "{ recommendations(first: 2) { book { id } } }",
    '{ similarBooks(bookId: "1", first: 2) { book { id } } }',
    '{ book(id: "1") { myRating } }',
    '{ book(id: "1") { myFeedback } }',
]
WRITES = [
    'mutation { rateBook(bookId: "3", stars: 4) { stars } }',
    'mutation { likeBook(bookId: "3") { id } }',
    'mutation { setFavoriteCategories(categoryIds: ["1"]) { id } }',
]


def count(engine: sa.Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql), params).scalar_one())


def user_id(engine: sa.Engine, username: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT id FROM app_user WHERE username_key = :k"), {"k": username.lower()}
            ).scalar_one()
        )


async def assert_refused(api: Api, token: str) -> None:
    for query in READS + WRITES:
        error = await api.error(query, token=token)
        assert error["extensions"]["code"] == "UNAUTHENTICATED", (query, error)
        assert "sign in again" in error["message"]


async def assert_works(api: Api, token: str) -> None:
    for query in READS:
        await api.ok(query, token=token)


async def reader_with_everything(api: Api, name: str, password: str = PASSWORD) -> str:
    """A reader with categories, ratings, a like, a dislike and recorded lists."""
    token = await api.register(name, password, ["1", "2"])
    await api.ok('mutation { rateBook(bookId: "1", stars: 4.5) { stars } }', token=token)
    await api.ok('mutation { rateBook(bookId: "3", stars: 2) { stars } }', token=token)
    await api.ok('mutation { likeBook(bookId: "4") { id } }', token=token)
    await api.ok('mutation { dislikeBook(bookId: "2") { id } }', token=token)
    await api.ok("{ recommendations(first: 3) { book { id } } }", token=token)
    await api.ok('{ similarBooks(bookId: "1", first: 2) { book { id } } }', token=token)
    return token


# --- changePassword ------------------------------------------------------------------------


async def test_change_password_revokes_every_other_token_on_every_process(
    engine: sa.Engine, database_url: str, seed_catalog: None
) -> None:
    """Two apps over one database stand for two processes (each its own verified-token
    cache). Tokens used (so cached) on both before the change are refused on both after."""
    async with api_for(engine, database_url) as a, api_for(engine, database_url) as b:
        first = await a.register("ann", PASSWORD)
        second = (await b.ok(LOGIN, {"u": "ann", "p": PASSWORD}))["login"]["token"]
        for api in (a, b):
            for token in (first, second):
                await assert_works(api, token)
        data = await a.ok(CHANGE, {"o": PASSWORD, "n": "a new password"}, first)
        fresh = data["changePassword"]["token"]
        assert data["changePassword"]["user"] == {"username": "ann"}
        for api in (a, b):
            for token in (first, second):
                await assert_refused(api, token)
            await assert_works(api, fresh)
        # the old password is gone, the new one signs in
        old = await b.error(LOGIN, {"u": "ann", "p": PASSWORD})
        assert old["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await b.ok(LOGIN, {"u": "ANN", "p": "a new password"}))["login"]["token"]
        # the revoked token cannot change the password back
        again = await b.error(CHANGE, {"o": "a new password", "n": "third password"}, first)
        assert again["extensions"]["code"] == "UNAUTHENTICATED"


async def test_change_password_refusals_change_nothing(api: Api, engine: sa.Engine) -> None:
    token = await api.register("bob", PASSWORD)
    before = count(engine, "SELECT COUNT(*) FROM app_user WHERE password_hash IS NOT NULL")
    cases = [
        ({"o": "wrong password", "n": "a new password"}, token, "BAD_USER_INPUT", "wrong"),
        ({"o": PASSWORD, "n": "short"}, token, "BAD_USER_INPUT", "8 to 128"),
        ({"o": PASSWORD, "n": PASSWORD}, token, "BAD_USER_INPUT", "differ"),
        ({"o": PASSWORD, "n": "a new password"}, None, "UNAUTHENTICATED", "Sign in"),
        ({"o": PASSWORD, "n": "a new password"}, "not-a-token", "UNAUTHENTICATED", "not valid"),
    ]
    for variables, tok, code, message in cases:
        error = await api.error(CHANGE, variables, tok)
        assert error["extensions"]["code"] == code, (variables, error)
        assert message in error["message"], error
    assert count(engine, "SELECT COUNT(*) FROM app_user WHERE password_hash IS NOT NULL") == before
    await assert_works(api, token)  # nothing was revoked
    assert (await api.ok(LOGIN, {"u": "bob", "p": PASSWORD}))["login"]["token"]


async def test_wrong_old_password_counts_against_the_sign_in_throttle(api: Api) -> None:
    """changePassword is no way around the throttle: its wrong passwords are failed
    sign-ins of the account, and once locked even the right one is not checked."""
    token = await api.register("carol", PASSWORD)
    for i in range(5):  # make_settings: login_max_failures=5
        error = await api.error(CHANGE, {"o": f"guess {i}", "n": "a new password"}, token)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
    locked = await api.error(CHANGE, {"o": PASSWORD, "n": "a new password"}, token)
    assert locked["extensions"]["code"] == "TOO_MANY_REQUESTS"
    assert locked["extensions"]["retryAfterSeconds"] >= 1
    login = await api.error(LOGIN, {"u": "carol", "p": PASSWORD})
    assert login["extensions"]["code"] == "TOO_MANY_REQUESTS"
    await assert_works(api, token)  # the session itself is untouched


async def test_account_operations_must_come_first_in_a_mutation(api: Api) -> None:
    """The throttle's count is committed in a transaction of its own; after another field
    of the mutation began the operation's transaction it is refused (clearly, and at once:
    on SQLite it would otherwise wait for its own write lock)."""
    token = await api.register("dave", PASSWORD)
    body = await api.gql(
        'mutation { rateBook(bookId: "1", stars: 3) { stars } '
        'login(username: "dave", password: "correct horse") { token } }',
        token=token,
    )
    assert body["data"] is None
    codes = [e["extensions"]["code"] for e in body["errors"]]
    assert codes == ["BAD_USER_INPUT"], body
    assert "come first" in body["errors"][0]["message"]
    # on its own, or first, it works
    first = await api.ok(
        'mutation { login(username: "dave", password: "correct horse") { token } '
        'rateBook(bookId: "1", stars: 3) { stars } }',
        token=token,
    )
    assert first["rateBook"] == {"stars": 3.0}


# --- deleteAccount ---------------------------------------------------------------------------


async def test_delete_account_leaves_no_row_of_the_reader(api: Api, engine: sa.Engine) -> None:
    token = await reader_with_everything(api, "erin")
    other = await reader_with_everything(api, "frank", "franks password")
    erin, frank = user_id(engine, "erin"), user_id(engine, "frank")
    metadata = reflect(engine)
    owned = rows_of_reader(engine, erin, metadata)
    # the test can fail: every kind of row the reader makes is there before
    for table in ("app_user", "user_category", "rating", "feedback", "rec_list", "rec_list_item"):
        assert owned.get(table), (table, owned)
    frank_before = rows_of_reader(engine, frank, metadata)
    likes_before = count(engine, "SELECT like_count FROM book WHERE id = 4")

    wrong = await api.error(DELETE, {"p": "not my password"}, token)
    assert wrong["extensions"]["code"] == "BAD_USER_INPUT"
    assert rows_of_reader(engine, erin, metadata) == owned  # nothing deleted
    # frank's password with erin's token is erin's wrong password: frank stays
    assert (await api.error(DELETE, {"p": "franks password"}, token))["extensions"][
        "code"
    ] == "BAD_USER_INPUT"

    assert (await api.ok(DELETE, {"p": PASSWORD}, token))["deleteAccount"] is True
    assert remaining(engine, owned, metadata) == {}
    assert set(rows_naming(engine, erin, metadata).values()) == {0}
    assert count(engine, "SELECT COUNT(*) FROM app_user WHERE id = :i", i=erin) == 0
    # erin's like is gone from the book's count, frank's is kept; frank keeps everything
    assert count(engine, "SELECT like_count FROM book WHERE id = 4") == likes_before - 1
    assert rows_of_reader(engine, frank, metadata) == frank_before
    assert count(
        engine, "SELECT COUNT(*) FROM feedback WHERE kind = 'liked' AND book_id = 4"
    ) == count(engine, "SELECT like_count FROM book WHERE id = 4")
    await assert_refused(api, token)
    again = await api.error(DELETE, {"p": PASSWORD}, token)
    assert again["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await api.error(LOGIN, {"u": "erin", "p": PASSWORD}))["extensions"][
        "code"
    ] == "UNAUTHENTICATED"
    await assert_works(api, other)


async def test_delete_account_is_one_transaction(api: Api, engine: sa.Engine) -> None:
    """A field after deleteAccount fails: the whole mutation is rolled back, account and
    all its rows kept."""
    token = await reader_with_everything(api, "gail")
    owned = rows_of_reader(engine, user_id(engine, "gail"))
    body = await api.gql(
        'mutation { deleteAccount(password: "correct horse") '
        'rateBook(bookId: "999", stars: 3) { stars } }',
        token=token,
    )
    assert body["data"] is None and body["errors"]
    assert remaining(engine, owned) == owned
    await assert_works(api, token)


async def test_delete_account_needs_a_session(api: Api) -> None:
    error = await api.error(DELETE, {"p": PASSWORD})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


# --- bookrec user export -----------------------------------------------------------------------


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BOOKREC_DATABASE_URL", database_url)
    monkeypatch.setenv("BOOKREC_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("BOOKREC_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("BOOKREC_LOG_LEVEL", "WARNING")
    return tmp_path


async def test_user_export(
    api: Api, engine: sa.Engine, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await reader_with_everything(api, "Hanna")
    await reader_with_everything(api, "ivan")
    main(["user", "export", "hanna"])
    data = json.loads(capsys.readouterr().out)
    uid = user_id(engine, "hanna")
    assert data["profile"]["username"] == "Hanna" and data["profile"]["id"] == uid
    assert set(data["profile"]) == {"id", "username", "is_staff", "created_at"}  # no hash
    text = json.dumps(data)
    assert "argon2" not in text and "password" not in text
    assert [c["name"] for c in data["categories"]] == ["Fantasy", "Mystery"]
    assert {(r["book_id"], r["stars"]) for r in data["ratings"]} == {(1, 4.5), (3, 2.0)}
    assert all(r["created_at"] and r["updated_at"] for r in data["ratings"])
    assert {(f["book_id"], f["kind"]) for f in data["feedback"]} == {(4, "liked"), (2, "disliked")}
    kinds = sorted(lst["kind"] for lst in data["lists"])
    assert kinds == ["recommendations", "similar"]
    stored_items = count(
        engine,
        "SELECT COUNT(*) FROM rec_list_item WHERE list_id IN "
        "(SELECT id FROM rec_list WHERE user_id = :u)",
        u=uid,
    )
    assert sum(len(lst["items"]) for lst in data["lists"]) == stored_items > 0
    assert all(
        {"position", "book_id", "source", "score"} <= set(i)
        for lst in data["lists"]
        for i in lst["items"]
    )
    # nothing of the other reader
    assert all(r["book_id"] for r in data["ratings"]) and len(data["ratings"]) == 2

    out = cli_env / "hanna.json"
    main(["user", "export", "hanna", "--output", str(out)])
    assert json.loads(out.read_text()) == data
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert "wrote" in capsys.readouterr().err

    with pytest.raises(SystemExit, match="No user named 'nobody'"):
        main(["user", "export", "nobody"])
