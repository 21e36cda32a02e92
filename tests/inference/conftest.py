"""Fixtures of the inference tests: hand-made artifacts under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.artifacts import build_artifact, rehash


@pytest.fixture
def make_artifact(tmp_path: Path):
    """Builder of hand-made artifacts under tmp_path: make_artifact(name="a", **options)."""

    def make(name: str = "artifact", **options):
        return tmp_path / name, build_artifact(tmp_path / name, **options)

    return make


@pytest.fixture
def rehash_artifact():
    """Forge an artifact's checksums after tampering with it."""
    return rehash
