"""Serving side of bookrec: load and verify a model artifact, score with onnxruntime + numpy.

Never imports tensorflow, keras or tf2onnx.
"""

from inference.recommender import Recommender

__all__ = ["Recommender"]
