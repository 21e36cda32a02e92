"""The command line: its expected failures end with a clear message, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from app.cli import main
from db.engine import make_engine


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BOOKREC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("BOOKREC_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("BOOKREC_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("BOOKREC_LOG_LEVEL", "WARNING")
    return tmp_path


def test_init_db_then_import_goodbooks(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["init-db"])
    books = env / "gb"
    books.mkdir()
    (books / "books.csv").write_text(
        "book_id,goodreads_book_id,isbn,authors,original_publication_year,original_title,title,image_url\n"
        "1,10,0439023483,Suzanne Collins,2008.0,The Hunger Games,The Hunger Games,http://x/1.jpg\n"
    )
    main(["import", "goodbooks", str(books)])
    assert "books 1 new" in capsys.readouterr().out
    engine = make_engine(f"sqlite:///{env / 'cli.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT title FROM book")).scalar_one() == "The Hunger Games"
    engine.dispose()


def test_broken_import_file_is_a_clear_exit(env: Path) -> None:
    main(["init-db"])
    books = env / "gb"
    books.mkdir()
    (books / "books.csv").write_text("book_id,title,authors\nnot-a-number,T,A\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["import", "goodbooks", str(books)])
    assert "books.csv line 2" in str(exit_info.value)


def test_model_commands_without_models(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["model", "list"])
    assert capsys.readouterr().out == ""
    with pytest.raises(SystemExit) as exit_info:
        main(["model", "rollback"])
    assert "no current version" in str(exit_info.value)


def test_grant_and_revoke_staff(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["init-db"])
    with pytest.raises(SystemExit, match="No user named 'nobody'"):
        main(["user", "grant-staff", "nobody"])
    engine = make_engine(f"sqlite:///{env / 'cli.db'}")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO app_user (username, username_key, created_at) VALUES ('Ada', 'ada', CURRENT_TIMESTAMP)"
            )
        )
    staff = "SELECT is_staff FROM app_user WHERE username_key = 'ada'"
    try:
        main(["user", "grant-staff", "ADA"])  # usernames are case-insensitive
        assert "Ada is now staff" in capsys.readouterr().out
        with engine.connect() as conn:
            assert conn.execute(sa.text(staff)).scalar_one()
        main(["user", "revoke-staff", "ada"])
        assert "Ada is no longer staff" in capsys.readouterr().out
        with engine.connect() as conn:
            assert not conn.execute(sa.text(staff)).scalar_one()
    finally:
        engine.dispose()


def test_model_list_on_a_database_never_migrated(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database model store over a database without tables: a clear exit (both
    backends), not a traceback."""
    monkeypatch.setenv("BOOKREC_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("BOOKREC_MODEL_STORE", "database")
    monkeypatch.setenv("BOOKREC_SECRET_KEY", "k" * 40)
    with pytest.raises(SystemExit) as exit_info:
        main(["model", "list"])
    message = str(exit_info.value.code)
    assert message.startswith("bookrec: ") and message.endswith("run bookrec init-db first")


def test_model_list_with_the_database_away(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.server import free_port

    monkeypatch.setenv(
        "BOOKREC_DATABASE_URL", f"postgresql://bookrec:bookrec@127.0.0.1:{free_port()}/x"
    )
    monkeypatch.setenv("BOOKREC_MODEL_STORE", "database")
    monkeypatch.setenv("BOOKREC_SECRET_KEY", "k" * 40)
    with pytest.raises(SystemExit, match=r"bookrec: the database is unavailable: .*refused"):
        main(["model", "list"])
