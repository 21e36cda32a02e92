"""The retraining lock: a lease row taken by one atomic statement (db.leases)."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from db import leases
from db.engine import make_engine


def test_one_holder_at_a_time_until_it_expires_or_is_released(engine: sa.Engine) -> None:
    assert leases.acquire(engine, "retrain", "a", 30)
    assert not leases.acquire(engine, "retrain", "b", 30)
    assert leases.acquire(engine, "retrain", "a", 30)  # the holder extends it
    assert leases.renew(engine, "retrain", "a", 30)
    assert not leases.renew(engine, "retrain", "b", 30)
    leases.release(engine, "retrain", "b")  # not b's: nothing happens
    assert leases.holder_of(engine, "retrain") is not None
    assert leases.holder_of(engine, "retrain")[0] == "a"  # type: ignore[index]
    leases.release(engine, "retrain", "a")
    assert leases.acquire(engine, "retrain", "b", 0.3)
    assert not leases.acquire(engine, "retrain", "a", 30)
    time.sleep(0.5)  # b crashed: its lease ran out
    assert leases.acquire(engine, "retrain", "a", 30)
    assert not leases.renew(engine, "retrain", "b", 30)  # b came back: it lost the lease


def test_of_many_racing_for_a_free_lease_exactly_one_wins(database_url: str) -> None:
    engines = [make_engine(database_url) for _ in range(6)]
    barrier = threading.Barrier(len(engines))
    won: list[str] = []

    def race(i: int) -> None:
        barrier.wait()
        if leases.acquire(engines[i], "retrain", f"worker-{i}", 30):
            won.append(f"worker-{i}")

    try:
        threads = [threading.Thread(target=race, args=(i,)) for i in range(len(engines))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(won) == 1
        assert leases.holder_of(engines[0], "retrain")[0] == won[0]  # type: ignore[index]
    finally:
        for e in engines:
            e.dispose()
