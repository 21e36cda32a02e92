"""Entry points the training side reads the database through."""

from db.ratings import ratings_frame

__all__ = ["ratings_frame"]
