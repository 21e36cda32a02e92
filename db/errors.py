"""Expected failures of database operations, in terms the API can translate."""


class DataError(Exception):
    """Base class: the message is safe to show to a client."""


class NotFound(DataError):
    pass


class Conflict(DataError):
    pass


class InvalidInput(DataError):
    pass
