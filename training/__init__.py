"""Training: ratings from the database -> a Keras model -> an ONNX artifact.

TensorFlow's C++ logging is limited to errors before TensorFlow is first imported, from any
entry point. That covers what TensorFlow logs once its logging is set up; the lines absl
writes before that ignore the setting (the CUDA and oneDNN notes of a CPU-only machine):
the commands that train filter those (app/native_stderr.py)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
