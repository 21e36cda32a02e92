"""Model faults under a running server (a real `bookrec serve` subprocess following
models/CURRENT every 0.2 s): each broken artifact made CURRENT is refused with a reason
(GET /healthz `model.refused`, and the log) while the previous model keeps serving; rapid
switches between two valid versions under load fail nothing and never mix versions in one
response; `bookrec model rollback` is one command and the server follows it.

BOOKREC_RELIABILITY_FLIP_SECONDS (4) and _FLIP_CLIENTS (8) size the switching test.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import make_url

from artifact import CURRENT
from artifact.store import write_text_atomic
from tests.reliability.conftest import knob, reliability_server, server_env, token_for
from tests.support.server import Server, bookrec_command

pytestmark = pytest.mark.slow

# The train extra: onnx for the hand-made artifact builders, TensorFlow to train two real
# versions (found, not imported, here: the import is slow and happens in the fixture).
pytest.importorskip("onnx")
if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("training needs the 'train' extra (tensorflow)", allow_module_level=True)

from tests.support.artifacts import build_artifact, current_version, publish, rehash  # noqa: E402

SERVING, OTHER = "v0002", "v0001"
READER = 3
SIGNED_QUERY = "{ modelInfo { version } recommendations(first: 5) { score source book { id } } }"


@pytest.fixture(scope="module")
def served(
    trained_models: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Path]]:
    """One server for the module, over a copy of the tiny catalog and its two real versions
    trained with different seeds (v0002 current)."""
    root = tmp_path_factory.mktemp("model-faults")
    url = f"sqlite:///{root / 'bookrec.db'}"
    shutil.copyfile(make_url(trained_models[0]).database, root / "bookrec.db")
    models = root / "models"
    shutil.copytree(trained_models[1], models)
    publish(models, SERVING)
    server = reliability_server(url, models, root / "server.log")
    server.start()
    try:
        yield server, models
    finally:
        server.stop()


def _gql(server: Server, query: str, token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{server.url}/graphql", json={"query": query}, headers=headers, timeout=30
    )
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


def _wait(condition: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _serving(server: Server) -> str:
    return str(_gql(server, "{ modelInfo { version } }")["modelInfo"]["version"])


def _point_at(server: Server, models: Path, version: str) -> None:
    publish(models, version)
    _wait(lambda: _serving(server) == version, f"the server to serve {version}")


def _signature(response: dict[str, Any]) -> tuple[tuple[str, float], ...]:
    return tuple((r["book"]["id"], r["score"]) for r in response["recommendations"])


# ----------------------------------------------------------------------- broken artifacts


def _copy_serving(models: Path, name: str) -> Path:
    target = models / name
    shutil.copytree(models / SERVING, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["version"] = name
    (target / "manifest.json").write_text(json.dumps(manifest))
    rehash(target)
    return target


def truncated_onnx(models: Path, name: str) -> str:
    path = _copy_serving(models, name)
    graph = path / "score_user.onnx"
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])
    rehash(path)  # the checksum matches: onnxruntime itself must refuse it
    return name


def random_bytes_onnx(models: Path, name: str) -> str:
    path = _copy_serving(models, name)
    (path / "score_user.onnx").write_bytes(np.random.default_rng(5).bytes(8192))
    rehash(path)
    return name


def wrong_input_name(models: Path, name: str) -> str:
    build_artifact(models / name, input_name="uid", version=name)
    return name


def wrong_output_shape(models: Path, name: str) -> str:
    build_artifact(models / name, version=name)
    manifest = json.loads((models / name / "manifest.json").read_text())
    manifest["graphs"]["score_user"]["outputs"]["scores"] = ["N", 9]  # the graph gives 8
    (models / name / "manifest.json").write_text(json.dumps(manifest))
    return name


def nan_producing_graph(models: Path, name: str) -> str:
    build_artifact(models / name, nan_user=0, version=name)
    return name


def checksum_mismatch(models: Path, name: str) -> str:
    path = _copy_serving(models, name)
    array = path / "book_factors.npy"
    data = bytearray(array.read_bytes())
    data[-1] ^= 0xFF  # still a valid .npy: only the checksum can tell
    array.write_bytes(bytes(data))
    return name


def manifest_not_json(models: Path, name: str) -> str:
    path = _copy_serving(models, name)
    (path / "manifest.json").write_text("{ not json")
    return name


def missing_version(models: Path, name: str) -> str:
    return name  # CURRENT will name a directory that does not exist


def not_a_version_name(models: Path, name: str) -> str:
    return "../" + name


FAULTS = [
    # (builder, version number, what the refusal reason must say)
    (truncated_onnx, 3, r"score_user\.onnx: onnxruntime cannot load"),
    (random_bytes_onnx, 4, r"score_user\.onnx: onnxruntime cannot load"),
    (wrong_input_name, 5, r"score_user\.onnx: input names \['uid'\]"),
    (wrong_output_shape, 6, r"score_user\.onnx: output 'scores' has shape"),
    (nan_producing_graph, 7, r"score_user\.onnx: smoke run"),
    (checksum_mismatch, 8, r"book_factors\.npy: sha256 mismatch"),
    (manifest_not_json, 9, r"manifest\.json: manifest is not valid JSON"),
    (missing_version, 10, r"v0010.*(neither an artifact|missing)"),
    (not_a_version_name, 11, r"does not name a version"),
]


@pytest.mark.parametrize(("build", "number", "reason"), FAULTS, ids=[f[0].__name__ for f in FAULTS])
def test_broken_current_is_refused_and_previous_keeps_serving(
    served: tuple[Server, Path], build: Callable[[Path, str], str], number: int, reason: str
) -> None:
    server, models = served
    _point_at(server, models, SERVING)
    token = token_for(READER)
    before = _signature(_gql(server, SIGNED_QUERY, token))
    name = build(models, f"v{number:04d}")
    write_text_atomic(models / CURRENT, name + "\n")

    health = _wait(
        lambda: (
            (h := server.health())["model"]["refused"]
            and h["model"]["refused"]["version"] == name
            and h
        ),
        f"the server to refuse {name}",
    )
    assert health["status"] == "ok"
    assert health["model"]["version"] == SERVING
    assert re.search(reason, health["model"]["refused"]["reason"]), health["model"]["refused"]
    _wait(
        lambda: (
            f"refused model {name}" in server.log_text()
            or f"could not load model {name}" in server.log_text()
        ),
        "the refusal in the log",
    )

    # The previous model keeps serving, unchanged, for as long as CURRENT stays broken.
    time.sleep(0.5)  # a few more polls of the broken pointer
    response = _gql(server, SIGNED_QUERY, token)
    assert response["modelInfo"]["version"] == SERVING
    assert {r["source"] for r in response["recommendations"]} == {"MODEL"}
    assert _signature(response) == before
    assert server.health()["model"]["version"] == SERVING
    write_text_atomic(models / CURRENT, SERVING + "\n")


# ----------------------------------------------------------------------- switching under load


def test_rapid_switches_under_load_fail_nothing_and_never_mix_versions(
    served: tuple[Server, Path],
) -> None:
    """Two versions trained with different seeds score the reader's top five differently;
    their signatures (book ids and scores) are recorded first. Then clients loop on
    `{ modelInfo { version } recommendations(first: 5) { score ... } }` while a thread
    flips CURRENT every ~100 ms with publish. Every response must succeed and its
    recommendations must equal the signature of the version named in the same response:
    a response mixing two versions would pair one version's name with the other's scores."""
    server, models = served
    token = token_for(READER)
    signatures: dict[str, tuple[tuple[str, float], ...]] = {}
    for version in (OTHER, SERVING):
        _point_at(server, models, version)
        response = _gql(server, SIGNED_QUERY, token)
        assert {r["source"] for r in response["recommendations"]} == {"MODEL"}
        signatures[version] = _signature(response)
    assert signatures[OTHER] != signatures[SERVING], "the versions must be told apart"

    seconds, clients = knob("FLIP_SECONDS", 4), knob("FLIP_CLIENTS", 8)
    stop = threading.Event()
    flips = 0

    def flipper() -> None:
        nonlocal flips
        version = OTHER
        while not stop.is_set():
            publish(models, version)
            flips += 1
            version = SERVING if version == OTHER else OTHER
            stop.wait(0.1)

    async def load() -> tuple[Counter[str], list[str], int]:
        seen: Counter[str] = Counter()
        problems: list[str] = []
        switches = 0
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:

            async def loop() -> None:
                nonlocal switches
                last = None
                while time.monotonic() < deadline:
                    try:
                        response = await http.post(
                            "/graphql",
                            json={"query": SIGNED_QUERY},
                            headers={"Authorization": f"Bearer {token}"},
                        )
                        body = response.json()
                    except (httpx.HTTPError, ValueError) as exc:
                        problems.append(f"{type(exc).__name__}: {exc}")
                        continue
                    if response.status_code != 200 or body.get("errors"):
                        problems.append(f"{response.status_code}: {body}")
                        continue
                    version = body["data"]["modelInfo"]["version"]
                    seen[version] += 1
                    switches += last is not None and version != last
                    last = version
                    if _signature(body["data"]) != signatures.get(version):
                        problems.append(f"mixed: {version} with {_signature(body['data'])}")

            await asyncio.gather(*(loop() for _ in range(clients)))
        return seen, problems, switches

    thread = threading.Thread(target=flipper, name="flip-current", daemon=True)
    thread.start()
    try:
        seen, problems, switches = asyncio.run(load())
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not problems, f"{len(problems)} bad responses, e.g. {problems[:3]}"
    assert seen[OTHER] > 0 and seen[SERVING] > 0, seen
    print(
        f"\n{sum(seen.values())} responses ({dict(seen)}), {flips} flips of CURRENT, "
        f"{switches} version changes seen by clients, 0 failed, 0 mixed"
    )
    _point_at(server, models, SERVING)


# ----------------------------------------------------------------------- rollback


def _cli(models: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = server_env("sqlite:///unused.db", models)
    return subprocess.run(
        [*bookrec_command(), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_rollback_is_one_command_and_the_server_follows(served: tuple[Server, Path]) -> None:
    server, models = served
    _point_at(server, models, SERVING)
    token = token_for(READER)
    _point_at(server, models, OTHER)
    expected = _signature(_gql(server, SIGNED_QUERY, token))
    _point_at(server, models, SERVING)

    result = _cli(models, "model", "rollback")
    assert result.returncode == 0, result.stderr
    assert f"current model is now {OTHER}" in result.stdout
    assert current_version(models) == OTHER
    _wait(lambda: _serving(server) == OTHER, "the server to follow the rollback")
    response = _gql(server, SIGNED_QUERY, token)
    assert response["modelInfo"]["version"] == OTHER and _signature(response) == expected

    listing = _cli(models, "model", "list")
    assert listing.returncode == 0 and f"* {OTHER}" in listing.stdout

    # Nothing older than v0001: the command fails clearly and changes nothing.
    again = _cli(models, "model", "rollback")
    assert again.returncode != 0
    assert "no valid version older than v0001" in again.stderr
    assert current_version(models) == OTHER
    time.sleep(0.5)
    assert _serving(server) == OTHER
    _point_at(server, models, SERVING)


def test_every_worker_process_follows_the_current_model(
    served: tuple[Server, Path], tmp_path: Path
) -> None:
    """`bookrec serve --workers 2`: both processes switch, each on its own."""
    first, models = served
    url = first.env["BOOKREC_DATABASE_URL"]
    server = reliability_server(url, models, tmp_path / "workers.log", workers=2)
    server.start()
    try:
        for version in ("v0001", SERVING):
            publish(models, version)

            def workers_on_version(version: str = version) -> bool:
                seen: dict[int, str | None] = {}
                for _ in range(40):  # a new connection each time: the workers share them
                    health = httpx.get(f"{server.url}/healthz", timeout=5).json()
                    seen[health["pid"]] = health["model"]["version"]
                return len(seen) == 2 and set(seen.values()) == {version}

            _wait(workers_on_version, f"both workers to serve {version}", timeout=30)
    finally:
        server.stop()
        publish(models, SERVING)
