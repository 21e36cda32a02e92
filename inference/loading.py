"""Opening an artifact for serving: every file checked against the manifest before use.

A server must never serve a broken artifact, so everything that can be checked is: the
checksums, every listed array (readable, finite, the shapes the manifest implies), every
graph (onnxruntime loads it; input and output names and shapes as the manifest says)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from artifact import ArtifactError, read_manifest, resolve
from artifact.manifest import listed_file, verify_checksums

USER_GRAPH = "score_user"  # user_index[N] -> scores[N, B], stars[N, B]
VECTOR_GRAPH = "score_vector"  # user_vector[N, d], user_bias[N] -> scores[N, B], stars[N, B]
OUTPUTS = ("scores", "stars")
REQUIRED_ARRAYS = ("user_ids", "book_ids", "book_factors")


@dataclass(frozen=True)
class OpenedArtifact:
    root: Path
    manifest: dict[str, Any]
    sessions: dict[str, ort.InferenceSession]
    arrays: dict[str, np.ndarray]


def open_artifact(path: str | Path, threads: int = 0) -> OpenedArtifact:
    """An artifact dir (or a models dir's CURRENT version), verified end to end."""
    root = resolve(path)
    manifest = read_manifest(root)
    verify_checksums(root, manifest)
    arrays = _load_arrays(root, manifest)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    sessions = {
        name: _open_graph(root, name, spec, manifest, options)
        for name, spec in manifest["graphs"].items()
    }
    if USER_GRAPH not in sessions:
        raise ArtifactError(f"{root}: no {USER_GRAPH!r} graph listed in the manifest")
    return OpenedArtifact(root, manifest, sessions, arrays)


def _expected_shapes(manifest: dict[str, Any], dim: int) -> dict[str, tuple[int, ...]]:
    n_users, n_books = manifest["n_users"], manifest["n_books"]
    return {
        "user_ids": (n_users,),
        "book_ids": (n_books,),
        "book_bias": (n_books,),
        "rank_bias": (n_books,),
        "rank_projection": (dim, dim),
        "user_factors": (n_users, dim),
        "user_bias": (n_users,),
        "user_history_hash": (n_users,),
        "implicit_factors": (n_books, dim),
    }


def _load_arrays(root: Path, manifest: dict[str, Any]) -> dict[str, np.ndarray]:
    listed = manifest.get("arrays", {})
    missing = [name for name in REQUIRED_ARRAYS if name not in listed]
    if missing:
        raise ArtifactError(f"{root}: manifest lists no array {missing[0]!r}")
    arrays = {}
    for name, file in listed.items():
        path = listed_file(root, manifest, file)
        try:
            arrays[name] = np.load(path, allow_pickle=False)
        except Exception as exc:  # numpy raises several types for bad files
            raise ArtifactError(f"{path}: not a readable .npy array ({exc})") from exc
    factors = arrays["book_factors"]
    if factors.ndim != 2 or factors.shape[0] != manifest["n_books"]:
        raise ArtifactError(
            f"{root / listed['book_factors']}: shape {factors.shape}, "
            f"expected ({manifest['n_books']}, d)"
        )
    for name, shape in _expected_shapes(manifest, factors.shape[1]).items():
        if name in arrays and arrays[name].shape != shape:
            raise ArtifactError(
                f"{root / listed[name]}: shape {arrays[name].shape}, expected {shape}"
            )
    for name, values in arrays.items():
        if not np.all(np.isfinite(values)):
            raise ArtifactError(f"{root / listed[name]}: contains NaN or infinity")
    return arrays


def _open_graph(
    root: Path,
    name: str,
    spec: dict[str, Any],
    manifest: dict[str, Any],
    options: ort.SessionOptions,
) -> ort.InferenceSession:
    file = root / spec.get("file", "")
    if spec.get("file") not in manifest["files"]:
        raise ArtifactError(f"{file}: graph {name!r} is not covered by a checksum")
    try:
        session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ArtifactError(f"{file}: onnxruntime cannot load the graph ({exc})") from exc
    for kind, actual in (("input", session.get_inputs()), ("output", session.get_outputs())):
        wanted = spec.get(f"{kind}s", {})
        names = [a.name for a in actual]
        if sorted(names) != sorted(wanted):
            raise ArtifactError(f"{file}: {kind} names {names}, manifest says {sorted(wanted)}")
        for arg in actual:
            want = wanted[arg.name]
            if len(arg.shape) != len(want) or any(
                isinstance(a, int) and isinstance(w, int) and a != w
                for a, w in zip(arg.shape, want, strict=True)
            ):
                raise ArtifactError(
                    f"{file}: {kind} {arg.name!r} has shape {arg.shape}, expected {want}"
                )
    for out in spec.get("outputs", {}).values():
        if out[-1] != manifest["n_books"]:
            raise ArtifactError(
                f"{file}: outputs must score {manifest['n_books']} books, not {out[-1]}"
            )
    return session
