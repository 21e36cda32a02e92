"""The book-manager design's serving path, for bench/serve.py to compare against: a
Starlette endpoint that runs ``model.predict`` of the Keras model (5-dim user and book
embeddings concatenated -> Dense 128 -> 32 -> 1, ``training.archs.seed000.Seed000``, random
weights) over all (user, book) pairs of one user, sorts, and returns the top 10.

Run as a script (``python bench/_bookmanager.py --port ...``) by ``start_bookmanager``:
tensorflow is imported in that subprocess only."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _script import log

from tests.support.server import LOOPBACK, REPO, Server, bookrec_env, free_port


def serve(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="_bookmanager.py")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--books", type=int, required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request as HttpRequest
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from training.archs.seed000 import Seed000

    warm = Seed000(args.users, args.books)  # the seed000 architecture; random weights
    warm.compile(optimizer="adam", loss="mse")
    warm([np.zeros(1, np.int64), np.zeros(1, np.int64)])  # build
    saved = Path(args.workdir) / "bookmanager.keras"
    warm.save(saved)
    all_books = np.arange(args.books, dtype=np.int64)

    async def recommend(request: HttpRequest) -> JSONResponse:
        body = await request.json()
        users = np.full(args.books, int(body["userIndex"]), dtype=np.int64)
        # The design's serving path: load the saved Keras model, predict every (user, book)
        # pair, then sort ("load": true). "load": false keeps one model loaded (its best
        # case). One request at a time per process (a blocking call on the event loop, like a
        # sync Django worker).
        model = keras.models.load_model(saved) if body.get("load") else warm
        stars = model.predict(
            [users, all_books], batch_size=body.get("batchSize"), verbose=0
        ).ravel()
        best = np.argsort(-stars)[:10]
        picks = [{"bookIndex": int(i), "score": float(stars[i])} for i in best]
        return JSONResponse({"data": {"recommendations": picks}})

    async def healthz(_: HttpRequest) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[Route("/recommend", recommend, methods=["POST"]), Route("/healthz", healthz)]
    )
    uvicorn.run(app, host=LOOPBACK, port=args.port, log_level="warning")


def start_bookmanager(workdir: Path, n_users: int, n_books: int) -> Server:
    port = free_port()
    argv = [sys.executable, str(Path(__file__).resolve()), "--port", str(port)]
    argv += ["--users", str(n_users), "--books", str(n_books), "--workdir", str(workdir)]
    # PYTHONPATH: this module imports tests.support.server in that process too.
    env = bookrec_env("sqlite://", workdir, "x" * 48, PYTHONPATH=str(REPO))
    server = Server(argv, env, workdir / "bookmgr.log", port, name="bookmgr", cwd=REPO)
    t0 = time.monotonic()
    server.start(timeout=180)
    log(f"book-manager path ready on {server.url} in {time.monotonic() - t0:.1f}s")
    return server


if __name__ == "__main__":
    serve(sys.argv[1:])
