"""Expected failures of database operations, in terms the API can translate."""


class DataError(Exception):
    """Base class: the message is safe to show to a client."""


class NotFound(DataError):
    pass


class Conflict(DataError):
    pass


class InvalidInput(DataError):
    pass


# PostgreSQL aborts one of the transactions in a deadlock (40P01), and one that cannot be
# serialised with a concurrent one (40001), having rolled all of it back: the same work run
# again from the start is safe and will most likely succeed. Not retried: a lock wait that
# timed out (55P03, only with lock_timeout or NOWAIT, neither of which bookrec sets) says
# the system is overloaded, and running again adds load; 40003 (statement completion
# unknown) may have committed. SQLite serialises writers (BEGIN IMMEDIATE, busy timeout)
# and has no such codes.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})


def transient_sqlstate(exc: BaseException | None) -> str | None:
    """The SQLSTATE if `exc` (or an exception it wraps) is a transaction the database rolled
    back to break a deadlock or a serialisation conflict; None otherwise. Backend-neutral: it
    reads the driver's `sqlstate` (psycopg) through SQLAlchemy's `orig` and exception chains."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        state = getattr(exc, "sqlstate", None)
        if state in TRANSIENT_SQLSTATES:
            return str(state)
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return None


# The database cannot be reached, or is going away: connection exceptions (class 08), the
# server shutting down (57P01 admin_shutdown, 57P02 crash_shutdown) or not yet accepting
# connections (57P03 cannot_connect_now, "the database system is starting up / shutting
# down"). Nothing the operation did was kept (the connection's transaction died with it),
# and the same request a moment later will most likely succeed.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` (or an exception it wraps) says the database is unreachable or
    restarting: one of the SQLSTATEs above; psycopg's OperationalError without one (a
    connection refused, closed or lost: libpq's own failures carry no SQLSTATE); or
    SQLAlchemy's mark of a statement that found its connection gone. SQLite's errors are
    not counted: a locked database has its own handling, and a file that cannot be opened
    is a setup fault, not an outage that passes."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        state = getattr(exc, "sqlstate", None)
        if isinstance(state, str) and (state.startswith("08") or state in UNAVAILABLE_SQLSTATES):
            return True
        if state is None and _is_psycopg_operational(exc):
            return True
        orig = getattr(exc, "orig", None)
        if getattr(exc, "connection_invalidated", False) and _is_psycopg(orig):
            return True
        exc = orig or exc.__cause__ or exc.__context__
    return False


def one_line(exc: BaseException | None) -> str:
    """An exception as one short log line (libpq's messages span lines)."""
    return f"{type(exc).__name__}: " + " ".join(str(exc).split())[:300]


def _is_psycopg(exc: object) -> bool:
    return type(exc).__module__.split(".", 1)[0] == "psycopg"


def _is_psycopg_operational(exc: BaseException) -> bool:
    return any(
        kind.__name__ == "OperationalError" and kind.__module__.split(".", 1)[0] == "psycopg"
        for kind in type(exc).__mro__
    )


def missing_table(exc: BaseException | None) -> bool:
    """Whether `exc` (or an exception it wraps) is a statement on a table that does not
    exist: a database that was never migrated (`bookrec init-db`). PostgreSQL's 42P01
    (undefined_table); SQLite's "no such table"."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if getattr(exc, "sqlstate", None) == "42P01":
            return True
        if type(exc).__module__ == "sqlite3" and str(exc).startswith("no such table"):
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False
