"""Tables. SQLModel `table=True` classes skip validation, so every rule that matters is
also a database constraint (CHECK, UNIQUE, foreign keys), enforced on SQLite and PostgreSQL.

Stars are stored as whole half-stars (1..10): exact, and the CHECK is the same everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# Constraint names are deterministic so Alembic autogenerate and migrations agree.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

FEEDBACK_LIKED = "liked"
FEEDBACK_DISLIKED = "disliked"
MIN_HALF_STARS = 1
MAX_HALF_STARS = 10


def utcnow() -> datetime:
    return datetime.now(UTC)


def _timestamp(**kwargs: object) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(sa.DateTime(timezone=True), nullable=False, **kwargs)  # type: ignore[arg-type]


def _key_to(target: str, index: bool = False) -> sa.Column:  # type: ignore[type-arg]
    """A primary-key column that references `target` ("table.id"); rows go with it."""
    return sa.Column(
        sa.Integer, sa.ForeignKey(target, ondelete="CASCADE"), primary_key=True, index=index
    )


class User(SQLModel, table=True):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    __table_args__ = (
        sa.CheckConstraint("length(username) BETWEEN 1 AND 64", name="username_length"),
        # Usernames are ASCII (checked by the API), so lower() means the same on both engines.
        sa.CheckConstraint("username_key = lower(username)", name="username_key_lower"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    # Case-insensitive uniqueness as a plain UNIQUE column: portable and reflectable.
    username_key: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    # NULL for readers imported from a dataset: they exist for training but cannot sign in.
    password_hash: str | None = Field(default=None, sa_column=sa.Column(sa.String(255)))
    # Staff run the service (catalog, models, online metrics). Read from the database on
    # every staff operation, never from the token, so that revoking it takes effect at once.
    is_staff: bool = Field(
        default=False,
        sa_column=sa.Column(sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    # Tokens carry it (claim `ep`) and are valid only while it is unchanged: a password
    # change draws a new one, so every token issued before stops working on every host.
    # Random, not a counter: SQLite may give a deleted account's id to the next one, whose
    # fresh value then matches no old token. 0 for accounts made before it existed (and for
    # imported readers), which is what a token without the claim stands for.
    token_epoch: int = Field(
        default=0,
        sa_column=sa.Column(sa.BigInteger(), nullable=False, server_default="0"),
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per attempted username, shared by every server process and host.
    Keyed by a digest of the username key (bounded size, and no raw attacker-chosen names
    kept), for names with no account too; a row whose window has passed is pruned."""

    __tablename__ = "login_throttle"
    __table_args__ = (sa.CheckConstraint("failures >= 0", name="failures_nonnegative"),)

    key: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    failures: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    # Seconds since the Unix epoch on the database's clock (one clock for every host).
    window_start: float = Field(sa_column=sa.Column(sa.Float, nullable=False, index=True))


class Category(SQLModel, table=True):
    __tablename__ = "category"
    __table_args__ = (sa.CheckConstraint("length(name) BETWEEN 1 AND 100", name="name_length"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=sa.Column(sa.String(100), nullable=False, unique=True))


class Book(SQLModel, table=True):
    __tablename__ = "book"
    __table_args__ = (
        sa.CheckConstraint("like_count >= 0", name="like_count_nonnegative"),
        sa.CheckConstraint("length(title) >= 1", name="title_nonempty"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_column=sa.Column(sa.String(500), nullable=False))
    authors: str = Field(
        default="", sa_column=sa.Column(sa.String(500), nullable=False, server_default="")
    )
    year: int | None = Field(default=None, sa_column=sa.Column(sa.Integer))
    isbn: str | None = Field(default=None, sa_column=sa.Column(sa.String(20)))
    description: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    cover_url: str | None = Field(default=None, sa_column=sa.Column(sa.String(500)))
    like_count: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )
    # Hidden by staff: never listed or recommended to readers; its ratings are kept (and
    # still train the model). Indexed: every recommendation trip reads the hidden set.
    hidden: bool = Field(
        default=False,
        sa_column=sa.Column(sa.Boolean(), nullable=False, server_default=sa.false(), index=True),
    )


class BookCategory(SQLModel, table=True):
    __tablename__ = "book_category"

    book_id: int = Field(sa_column=_key_to("book.id"))
    category_id: int = Field(sa_column=_key_to("category.id", index=True))


class CatalogState(SQLModel, table=True):
    """One row: `generation` counts the changes to the catalog as lists show it (books but
    for their like counts, category links, categories). Database triggers add to it, in the
    writing transaction (migration 0012); servers keep book rows while it stays the same
    (db.catalog_cache)."""

    __tablename__ = "catalog_state"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    generation: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))


class UserCategory(SQLModel, table=True):
    __tablename__ = "user_category"

    user_id: int = Field(sa_column=_key_to("app_user.id"))
    category_id: int = Field(sa_column=_key_to("category.id"))


class Rating(SQLModel, table=True):
    __tablename__ = "rating"
    __table_args__ = (
        sa.CheckConstraint(
            f"half_stars BETWEEN {MIN_HALF_STARS} AND {MAX_HALF_STARS}", name="half_stars_range"
        ),
        # SQLite's integer affinity would keep 4.5 as a REAL; a whole number is required.
        sa.CheckConstraint("half_stars = CAST(half_stars AS INTEGER)", name="half_stars_whole"),
        # Covering indexes: a book's rating count and mean come from the index alone, and
        # so do a reader's ratings (read on every recommendations request: without it,
        # one table lookup per rating).
        sa.Index("ix_rating_book_id_half_stars", "book_id", "half_stars"),
        sa.Index("ix_rating_user_id_book_id_half_stars", "user_id", "book_id", "half_stars"),
    )

    user_id: int = Field(sa_column=_key_to("app_user.id"))
    book_id: int = Field(sa_column=_key_to("book.id"))
    half_stars: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class Feedback(SQLModel, table=True):
    __tablename__ = "feedback"
    __table_args__ = (
        sa.CheckConstraint(
            f"kind IN ('{FEEDBACK_LIKED}', '{FEEDBACK_DISLIKED}')", name="kind_known"
        ),
    )

    user_id: int = Field(sa_column=_key_to("app_user.id"))
    book_id: int = Field(sa_column=_key_to("book.id", index=True))
    kind: str = Field(sa_column=sa.Column(sa.String(10), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


LIST_KINDS = ("recommendations", "similar")


class RecList(SQLModel, table=True):
    """A list of books served to a reader (or to anyone, for similar books): what was asked.
    Its pages' books are `RecListItem`s; a continuation adds a page to the same list."""

    __tablename__ = "rec_list"
    __table_args__ = (
        sa.CheckConstraint(f"kind IN {LIST_KINDS}", name="kind_known"),
        sa.Index("ix_rec_list_user_id_created_at", "user_id", "created_at"),
    )

    id: str = Field(sa_column=sa.Column(sa.String(32), primary_key=True))
    user_id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id", ondelete="CASCADE")),
    )
    kind: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    anchor_book_id: int | None = Field(default=None, sa_column=sa.Column(sa.Integer))
    category_id: int | None = Field(default=None, sa_column=sa.Column(sa.Integer))
    diversity: float = Field(
        default=0.0, sa_column=sa.Column(sa.Float, nullable=False, server_default="0")
    )
    model_version: str | None = Field(default=None, sa_column=sa.Column(sa.String(32)))
    variant: str | None = Field(default=None, sa_column=sa.Column(sa.String(32)))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp(index=True))


class RecListItem(SQLModel, table=True):
    """One position of a served list: the book, the chain step that chose it, its score."""

    __tablename__ = "rec_list_item"

    list_id: str = Field(
        sa_column=sa.Column(
            sa.String(32), sa.ForeignKey("rec_list.id", ondelete="CASCADE"), primary_key=True
        )
    )
    position: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True))
    # Not indexed (migration 0011): every list served writes ten of these rows, and no
    # query reads them by book alone; the service never deletes a book (staff hide them).
    book_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("book.id", ondelete="CASCADE"), nullable=False
        )
    )
    source: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    score: float = Field(sa_column=sa.Column(sa.Float, nullable=False))
    served_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class RecListOpen(SQLModel, table=True):
    """A reader opened a book from a served list (`openBook`). One row per list and book:
    reporting the same open again changes nothing."""

    __tablename__ = "rec_list_open"

    list_id: str = Field(
        sa_column=sa.Column(
            sa.String(32), sa.ForeignKey("rec_list.id", ondelete="CASCADE"), primary_key=True
        )
    )
    book_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("book.id", ondelete="CASCADE"), primary_key=True
        )
    )
    position: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    user_id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id", ondelete="CASCADE")),
    )
    opened_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp(index=True))


EXPERIMENT_OUTCOMES = ("stopped", "promoted")


class Experiment(SQLModel, table=True):
    """An A/B experiment: `version` served to a hashed share of readers, beside the current
    version. In the database (not the models directory) so that every server process and
    host sees the same one. `running` is 1 while it runs and NULL after: UNIQUE lets at most
    one experiment run at a time (NULLs never collide), on both backends."""

    __tablename__ = "experiment"
    __table_args__ = (
        sa.CheckConstraint("share > 0 AND share < 1", name="share_range"),
        sa.CheckConstraint("running = 1", name="running_flag"),
        sa.CheckConstraint(
            f"outcome IS NULL OR outcome IN {EXPERIMENT_OUTCOMES}", name="outcome_known"
        ),
        sa.CheckConstraint(
            "(running IS NULL) = (stopped_at IS NOT NULL)", name="running_until_stopped"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    control_version: str | None = Field(default=None, sa_column=sa.Column(sa.String(32)))
    share: float = Field(sa_column=sa.Column(sa.Float, nullable=False))
    salt: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    running: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, unique=True))
    started_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    stopped_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True))
    )
    outcome: str | None = Field(default=None, sa_column=sa.Column(sa.String(16)))


TRAINING_TRIGGERS = ("schedule", "new-ratings", "manual")
TRAINING_STATUSES = ("running", "published", "rejected-by-gate", "failed")


class TrainingRun(SQLModel, table=True):
    """One retraining attempt of `bookrec worker`: why it ran, how it ended. A run is
    inserted as `running` before training starts and finished in its own transaction."""

    __tablename__ = "training_run"
    __table_args__ = (
        sa.CheckConstraint(f"trigger IN {TRAINING_TRIGGERS}", name="trigger_known"),
        sa.CheckConstraint(f"status IN {TRAINING_STATUSES}", name="status_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    trigger: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(20), nullable=False, index=True))
    holder: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))  # host:pid:token
    mode: str | None = Field(default=None, sa_column=sa.Column(sa.String(10)))  # warm / cold
    new_ratings: int | None = Field(default=None, sa_column=sa.Column(sa.Integer))
    started_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp(index=True))
    finished_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True))
    )
    duration_seconds: float | None = Field(default=None, sa_column=sa.Column(sa.Float))
    version: str | None = Field(default=None, sa_column=sa.Column(sa.String(32)))
    gate_decision: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text))


class WorkerLease(SQLModel, table=True):
    """A named lease (the retraining lock): held by `holder` until `expires_at`. Taken and
    renewed by single atomic statements (db.leases); a crashed holder's lease expires."""

    __tablename__ = "worker_lease"

    name: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    holder: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    expires_at: datetime = Field(sa_column=_timestamp())


# ---------------------------------------------------------------- the database model store
# (artifact.db_store.DatabaseStore over db.model_blobs): every host follows these rows.

MODEL_SWITCH_ACTIONS = ("publish", "rollback")


class ModelVersionRow(SQLModel, table=True):
    """A model version stored in the database (complete: written in one transaction)."""

    __tablename__ = "model_version"
    __table_args__ = (sa.CheckConstraint("number >= 1", name="number_positive"),)

    version: str = Field(sa_column=sa.Column(sa.String(32), primary_key=True))
    number: int = Field(sa_column=sa.Column(sa.Integer, nullable=False, unique=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class ModelFileRow(SQLModel, table=True):
    """One file of a version, with the sha256 it was stored with (checked on every read)."""

    __tablename__ = "model_file"
    __table_args__ = (sa.CheckConstraint("size >= 0 AND parts >= 0", name="size_parts"),)

    version: str = Field(
        sa_column=sa.Column(
            sa.String(32),
            sa.ForeignKey("model_version.version", ondelete="CASCADE"),
            primary_key=True,
        )
    )
    name: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    sha256: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    size: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    parts: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))


class ModelBlobRow(SQLModel, table=True):
    """A part of a file's bytes (files are stored in parts: bounded memory both ways)."""

    __tablename__ = "model_blob"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["version", "name"],
            ["model_file.version", "model_file.name"],
            name="fk_model_blob_version_model_file",
            ondelete="CASCADE",
        ),
    )

    version: str = Field(sa_column=sa.Column(sa.String(32), primary_key=True))
    name: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    part: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True))
    data: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))


class ModelPointerRow(SQLModel, table=True):
    """CURRENT: one row; `sequence` grows by one at every switch, so a host polling it
    sees every change (even back to a version it served before)."""

    __tablename__ = "model_pointer"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    version: str = Field(
        sa_column=sa.Column(sa.String(32), sa.ForeignKey("model_version.version"), nullable=False)
    )
    sequence: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    switched_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class ModelSwitchRow(SQLModel, table=True):
    """The history of CURRENT: every publish and rollback, by sequence number."""

    __tablename__ = "model_switch"
    __table_args__ = (sa.CheckConstraint(f"action IN {MODEL_SWITCH_ACTIONS}", name="action_known"),)

    sequence: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    version: str = Field(
        sa_column=sa.Column(sa.String(32), sa.ForeignKey("model_version.version"), nullable=False)
    )
    previous_version: str | None = Field(default=None, sa_column=sa.Column(sa.String(32)))
    action: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
