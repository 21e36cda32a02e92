"""What GraphQL execution alone costs the frontend's recommendations shape, and what the
short path for plain fields (schema/execution.py) saves of it.

    .venv/bin/python bench/graphql_execution.py [--rounds 12] [--executions 500]

The query the reader app sends for its home screen, executed by strawberry against ten
`Recommendation` objects built in advance with the service's own GraphQL types (a book
with two categories and a `because` book each): no HTTP, no database, no model; only the
executor completing about 110 fields. Two schemas take turns round by round: graphql-core's
own execution context (strawberry's) and `PlainFieldsExecutionContext`; both have the parse
and validation caches the service uses, and both must give the same data. Printed: CPU ms
per execution, minimum and median over the rounds (the minimum is the least disturbed by
other work on the machine), and `{ __typename }` for scale.
"""

# No `from __future__ import annotations`: the schema below is built inside a function, and
# strawberry must see its annotations as objects, not strings naming local classes.
import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

FRONTEND = """{ recommendations(first: 10) { book { id title categories { name } }
  score predictedStars source because { id } } }"""


def _schemas() -> dict[str, object]:
    import strawberry
    from strawberry.extensions import ParserCache, ValidationCache
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

    from recommend.types import Source
    from schema.execution import PlainFieldsExecutionContext
    from schema.recommendations import Recommendation
    from schema.types import Book, Category

    def book(i: int) -> Book:
        return Book(
            id=strawberry.ID(str(i)),
            title=f"Title {i}",
            authors="An Author",
            year=2001,
            isbn=None,
            description=None,
            cover_url=None,
            like_count=3,
            hidden=False,
        )

    picks = []
    for i in range(10):
        shown = book(i)
        shown.prefetched_categories = [
            Category(id=strawberry.ID("1"), name="Fantasy"),
            Category(id=strawberry.ID("2"), name="Mystery"),
        ]
        picks.append(
            Recommendation(
                book=shown,
                score=0.5 - i / 100,
                predicted_stars=4.1,
                source=Source.MODEL,
                list_id=strawberry.ID("0123456789abcdef"),
                because=book(100 + i),
            )
        )

    @strawberry.type
    class Query:
        @strawberry.field
        async def recommendations(self, first: int = 10) -> list[Recommendation]:
            return picks[:first]

    kinds = {
        "graphql-core": StrawberryGraphQLCoreExecutionContext,
        "plain fields": PlainFieldsExecutionContext,
    }
    return {
        name: strawberry.Schema(
            query=Query, execution_context_class=kind, extensions=[ParserCache, ValidationCache]
        )
        for name, kind in kinds.items()
    }


async def _run(rounds: int, executions: int) -> None:
    from _machine import machine_info

    from app.tables import text_table

    schemas = _schemas()
    results = [await s.execute(FRONTEND) for s in schemas.values()]  # type: ignore[attr-defined]
    assert not any(r.errors for r in results), [r.errors for r in results]
    assert all(r.data == results[0].data for r in results), "the two executions differ"
    timings: dict[str, list[float]] = {name: [] for name in [*schemas, "{ __typename }"]}
    for _ in range(rounds):
        for name, schema in schemas.items():
            started = time.process_time()
            for _ in range(executions):
                await schema.execute(FRONTEND)  # type: ignore[attr-defined]
            timings[name].append(1000 * (time.process_time() - started) / executions)
        trivial = schemas["graphql-core"]
        started = time.process_time()
        for _ in range(executions):
            await trivial.execute("{ __typename }")  # type: ignore[attr-defined]
        timings["{ __typename }"].append(1000 * (time.process_time() - started) / executions)
    for line in machine_info():
        print(line)
    rows = []
    for name, values in timings.items():
        values.sort()
        rows.append((name, values[0], values[len(values) // 2]))
    print(f"GraphQL execution of the frontend's recommendations shape ({rounds} rounds of "
          f"{executions}; same data from both)")  # fmt: skip
    print(text_table(["executor", "min ms", "median ms"], rows, formats=[None, ".3f", ".3f"]))
    core, plain = timings["graphql-core"][0], timings["plain fields"][0]
    print(f"plain fields / graphql-core (minimum): {plain / core:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--executions", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(_run(args.rounds, args.executions))


if __name__ == "__main__":
    main()
