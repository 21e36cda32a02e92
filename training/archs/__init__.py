"""The architecture registry: one module per architecture, one line each here.

Each module defines `ARCH`, an `Architecture` (training.archs.base): its Keras model, its
hyperparameters, its training targets, the arrays and graphs it exports and its fold-in kind.
Modules are imported on first use, so that the CLI can list the names without loading
TensorFlow.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from training.archs.base import Architecture

REGISTRY = {
    "default": "training.archs.readers",  # bookrec's own: `readers`, under the usual name
    "joint": "training.archs.joint",  # the previous default: the same heads, Keras fit
    "readers": "training.archs.readers",  # joint heads trained on batches of whole readers
    "seed000": "training.archs.seed000",  # the Django book manager, as published
    "seed003": "training.archs.seed003",  # RecommenderNet, as published
}
NAMES = tuple(REGISTRY)


def get(name: str) -> Architecture:
    if name not in REGISTRY:
        raise ValueError(f"unknown arch {name!r}; choose one of {sorted(REGISTRY)}")
    arch = importlib.import_module(REGISTRY[name]).ARCH
    # the registered name is the one artifacts record (the same module may serve two names)
    return dataclasses.replace(arch, name=name)  # type: ignore[no-any-return]
