"""The staff role: set in the database (`bookrec user grant-staff`), read from it on every
staff check, so granting and revoking take effect on the next request; and every staff-only
operation refused to everyone else, with nothing changed.

STAFF_OPERATIONS is the one list of staff-only operations: add yours there (a document
that succeeds for staff on the small catalog with a published model). Every Query or
Mutation field whose description starts with "Staff" must be on it (checked below)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.asgi import create_app
from artifact import ModelStore
from schema import build_schema
from tests.support.api import Api, api_for, client_for, make_settings, make_staff
from tests.support.artifacts import publish

ME = "{ me { username isStaff } }"


@dataclass(frozen=True)
class StaffOperation:
    field: str  # the Query/Mutation field (or field(argument)) it exercises
    document: str
    variables: dict[str, Any] | None = None


STAFF_OPERATIONS = [
    StaffOperation("books(includeHidden)", "{ books(includeHidden: true) { totalCount } }"),
    StaffOperation("modelVersions", "{ modelVersions { version isCurrent } }"),
    StaffOperation(
        "addBook",
        "mutation($i: BookInput!) { addBook(input: $i) { id } }",
        {"i": {"title": "Staff Pick", "authors": "A. Writer", "categoryIds": ["1"]}},
    ),
    StaffOperation(
        "updateBook",
        'mutation { updateBook(id: "2", input: { title: "Gone Girl (2012)",'
        ' authors: "Gillian Flynn", year: 2012 }) { id } }',
    ),
    StaffOperation("setBookHidden", 'mutation { setBookHidden(id: "3", hidden: true) { id } }'),
    StaffOperation(
        "setBookCategories", 'mutation { setBookCategories(id: "5", categoryIds: ["2"]) { id } }'
    ),
    StaffOperation("addCategory", 'mutation { addCategory(name: "Poetry") { id } }'),
    StaffOperation("rollbackModel", "mutation { rollbackModel { version } }"),
    StaffOperation("onlineMetrics", "{ onlineMetrics { groups { lists } series { lists } } }"),
    StaffOperation("experiment", "{ experiment { id } }"),
    StaffOperation("trainingRuns", "{ trainingRuns { id status } }"),
]

TABLES = (
    "app_user",
    "book",
    "book_category",
    "category",
    "feedback",
    "rating",
    "rec_list",
    "rec_list_item",
    "user_category",
)


def _state(engine: sa.Engine, models: Path) -> dict[str, Any]:
    with engine.connect() as conn:
        tables = {
            t: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {t}"))), key=repr)
            for t in TABLES
        }
    return {**tables, "CURRENT": ModelStore(models).current()}


@pytest.fixture
async def staff_api(
    engine: sa.Engine,
    database_url: str,
    seed_catalog: None,
    trained_models: tuple[str, Path],
    tmp_path: Path,
) -> AsyncIterator[tuple[Api, Path]]:
    """The small catalog, served with a models dir of two versions (v0002 current)."""
    models = tmp_path / "models"
    shutil.copytree(trained_models[1], models)
    publish(models, "v0002")
    app = create_app(make_settings(database_url, model_dir=models), engine)
    async with app.router.lifespan_context(app), client_for(app) as client:
        yield Api(client), models


async def test_me_says_whether_the_reader_is_staff(engine: sa.Engine, database_url: str) -> None:
    async with api_for(engine, database_url) as api:
        token = await api.register("alice")
        assert (await api.ok(ME, token=token))["me"] == {"username": "alice", "isStaff": False}
        make_staff(engine, "alice")
        assert (await api.ok(ME, token=token))["me"]["isStaff"] is True
        make_staff(engine, "alice", staff=False)
        assert (await api.ok(ME, token=token))["me"]["isStaff"] is False


async def test_every_staff_operation_refuses_everyone_else_and_changes_nothing(
    staff_api: tuple[Api, Path], engine: sa.Engine
) -> None:
    api, models = staff_api
    reader = await api.register("reader")
    former = await api.register("former")  # staff once, revoked since: a reader again
    make_staff(engine, "former")
    make_staff(engine, "former", staff=False)
    staff = await api.register("keeper")
    make_staff(engine, "keeper")
    before = _state(engine, models)
    for op in STAFF_OPERATIONS:
        for token, code in (
            (None, "UNAUTHENTICATED"),
            (reader, "FORBIDDEN"),
            (former, "FORBIDDEN"),
        ):
            body = await api.gql(op.document, op.variables, token)
            assert body.get("data") is None or not any(body["data"].values()), (op.field, body)
            codes = [e["extensions"]["code"] for e in body.get("errors", [])]
            assert codes == [code], (op.field, token is None, body)
    assert _state(engine, models) == before, "a refused call changed something"
    for op in STAFF_OPERATIONS:
        body = await api.gql(op.document, op.variables, staff)
        assert "errors" not in body, (op.field, body)
    assert _state(engine, models) != before  # and the staff calls did their work


def test_every_field_described_as_staff_only_is_on_the_list() -> None:
    listed = {op.field.split("(")[0] for op in STAFF_OPERATIONS}
    graphql = build_schema()._schema
    described = {
        name
        for root in (graphql.query_type, graphql.mutation_type)
        if root is not None
        for name, field in root.fields.items()
        if (field.description or "").startswith("Staff")
    }
    assert described, "no field says it is staff only"
    assert described <= listed, (
        f"staff-only fields missing from STAFF_OPERATIONS: {described - listed}"
    )
