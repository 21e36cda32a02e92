"""Serving side of bookrec: load and verify a model artifact, score with onnxruntime + numpy.

Never imports tensorflow, keras or tf2onnx.
"""

from .artifact import current_version, list_versions, publish_current, rollback
from .errors import ArtifactError
from .recommender import Recommender

__all__ = [
    "ArtifactError",
    "Recommender",
    "current_version",
    "list_versions",
    "publish_current",
    "rollback",
]
