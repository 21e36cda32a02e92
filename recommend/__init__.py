"""The recommendation domain: who is asking (`ReaderState`), what they ask for (`Request`),
the chain that answers (`chain`), and the service that runs it next to the database
(`RecommendationService`). No GraphQL here: `schema/` maps arguments in and results out."""

from recommend.service import RecommendationService, Recommended, Served
from recommend.types import Pick, ReaderState, Request, Source

__all__ = [
    "Pick",
    "ReaderState",
    "RecommendationService",
    "Recommended",
    "Request",
    "Served",
    "Source",
]
