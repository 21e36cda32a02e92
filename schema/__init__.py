"""The GraphQL API: strawberry types, queries, mutations, permissions and dataloaders.

Reaches the database only through `db/`, and the model only through `inference/`."""

from schema.build import build_schema

__all__ = ["build_schema"]
