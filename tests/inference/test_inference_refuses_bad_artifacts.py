"""A broken artifact is refused with a message naming the file and the failed check."""

from __future__ import annotations

import json

import numpy as np
import pytest

from artifact import ArtifactError
from inference import Recommender


def _edit_manifest(path, change) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_truncated_graph_fails_checksum(make_artifact, rehash_artifact) -> None:
    path, _ = make_artifact()
    data = (path / "score_user.onnx").read_bytes()
    (path / "score_user.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match=r"score_user\.onnx: sha256 mismatch"):
        Recommender.load(path)


def test_truncated_graph_with_forged_checksum_fails_to_load(make_artifact, rehash_artifact) -> None:
    path, _ = make_artifact()
    data = (path / "score_user.onnx").read_bytes()
    (path / "score_user.onnx").write_bytes(data[: len(data) // 2])
    rehash_artifact(path)
    with pytest.raises(ArtifactError, match=r"score_user\.onnx: onnxruntime cannot load"):
        Recommender.load(path)


def test_random_bytes_graph_is_refused(make_artifact, rehash_artifact) -> None:
    path, _ = make_artifact()
    (path / "score_vector.onnx").write_bytes(np.random.default_rng(0).bytes(4096))
    rehash_artifact(path)
    with pytest.raises(ArtifactError, match=r"score_vector\.onnx: onnxruntime cannot load"):
        Recommender.load(path)


def test_random_bytes_array_is_refused(make_artifact, rehash_artifact) -> None:
    path, _ = make_artifact()
    (path / "book_factors.npy").write_bytes(np.random.default_rng(1).bytes(512))
    rehash_artifact(path)
    with pytest.raises(ArtifactError, match=r"book_factors\.npy: not a readable"):
        Recommender.load(path)


def test_wrong_input_name_is_refused(make_artifact, rehash_artifact) -> None:
    path, _ = make_artifact(input_name="uid")
    with pytest.raises(ArtifactError, match=r"score_user\.onnx: input names \['uid'\]"):
        Recommender.load(path)


def test_wrong_shapes_are_refused(make_artifact, rehash_artifact) -> None:
    path, _ = make_artifact()
    _edit_manifest(
        path, lambda m: m["graphs"]["score_vector"]["inputs"].update(user_vector=["N", 5])
    )
    with pytest.raises(ArtifactError, match=r"score_vector\.onnx: input 'user_vector' has shape"):
        Recommender.load(path)
    path, _ = make_artifact("other")
    _edit_manifest(path, lambda m: m["graphs"]["score_user"]["outputs"].update(scores=["N", 9]))
    with pytest.raises(ArtifactError, match=r"score_user\.onnx: output 'scores' has shape"):
        Recommender.load(path)


def test_array_shape_mismatch_is_refused(make_artifact, rehash_artifact) -> None:
    path, _ = make_artifact()
    np.save(path / "book_ids.npy", np.arange(3, dtype=np.int64))
    rehash_artifact(path)
    with pytest.raises(ArtifactError, match=r"book_ids\.npy: shape \(3,\), expected \(8,\)"):
        Recommender.load(path)


def test_nan_producing_graph_is_refused(make_artifact, rehash_artifact) -> None:
    path, _ = make_artifact(nan_user=0)
    with pytest.raises(ArtifactError, match=r"score_user\.onnx: smoke run"):
        Recommender.load(path)


def test_manifest_problems_are_refused(make_artifact, rehash_artifact) -> None:
    path, _ = make_artifact()
    (path / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match=r"manifest\.json: manifest is not valid JSON"):
        Recommender.load(path)
    path, _ = make_artifact("b")
    _edit_manifest(path, lambda m: m.pop("graphs"))
    with pytest.raises(ArtifactError, match="lacks required key 'graphs'"):
        Recommender.load(path)
    path, _ = make_artifact("c")
    (path / "book_bias.npy").unlink()
    with pytest.raises(ArtifactError, match=r"book_bias\.npy: listed in the manifest but missing"):
        Recommender.load(path)
    path, _ = make_artifact("d")
    _edit_manifest(path, lambda m: m["files"].pop("score_user.onnx"))
    with pytest.raises(ArtifactError, match="not covered by a checksum"):
        Recommender.load(path)


def test_wrong_fold_in_array_shape_is_refused(make_artifact, rehash_artifact) -> None:
    path, _ = make_artifact()
    np.save(path / "rank_projection.npy", np.eye(4, dtype=np.float32))
    rehash_artifact(path)
    with pytest.raises(
        ArtifactError, match=r"rank_projection\.npy: shape \(4, 4\), expected \(3, 3\)"
    ):
        Recommender.load(path)
