"""Training: ratings from the database -> a Keras model -> an ONNX artifact.

TensorFlow's C++ logging is limited to errors before TensorFlow is first imported, from any
entry point (the CLI, the worker, the benchmarks): its INFO and WARNING lines about GPUs and
CUDA on a machine that has none read like failures."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
