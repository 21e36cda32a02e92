"""The inference layer imports and serves with tensorflow, keras and tf2onnx unavailable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import sys
for name in ('tensorflow', 'keras', 'tf2onnx'):
    sys.modules[name] = None
import inference
from inference.metrics import ndcg_at_k
rec = inference.Recommender.load(sys.argv[1])
assert len(rec.recommend(100, k=3)) == 3
assert len(rec.recommend_for_history([(2000, 5.0)], k=3)) == 3
assert rec.similar_books(2000, k=2)
loaded = {m.split('.')[0] for m in sys.modules}
assert not loaded & {'tensorflow', 'keras', 'tf2onnx'} or all(sys.modules.get(n) is None for n in ('tensorflow', 'keras', 'tf2onnx'))
print('ok')
"""


def test_inference_works_without_training_frameworks(make_artifact) -> None:
    path, _ = make_artifact()
    out = subprocess.run(
        [sys.executable, "-c", CODE, str(path)], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
