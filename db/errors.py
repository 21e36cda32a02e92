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
