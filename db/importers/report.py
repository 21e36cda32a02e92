"""What an import did, counted by the database (rows before and after), for the summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class ImportReport:
    source: str
    books_inserted: int = 0
    books_skipped: int = 0
    categories_inserted: int = 0
    categories_skipped: int = 0
    users_inserted: int = 0
    users_skipped: int = 0
    ratings_inserted: int = 0
    # Valid rating lines not inserted: their (reader, book) pair was already in the
    # database, or earlier in the same file (the first line wins).
    ratings_skipped: int = 0
    book_categories_inserted: int = 0
    # Lines refused under skip_invalid, and the file listing each with its reason.
    lines_refused: int = 0
    refused_report: Path | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        def part(label: str, inserted: int, skipped: int) -> str:
            return f"{label} {inserted:,} new, {skipped:,} already present"

        text = (
            f"Imported {self.source} in {self.seconds:.2f}s: "
            + "; ".join(
                [
                    part("books", self.books_inserted, self.books_skipped),
                    part("categories", self.categories_inserted, self.categories_skipped),
                    part("users", self.users_inserted, self.users_skipped),
                    part("ratings", self.ratings_inserted, self.ratings_skipped),
                ]
            )
            + "."
        )
        if self.refused_report is not None:
            text += (
                f" Refused {self.lines_refused:,} invalid line(s), each with its reason in "
                f"{self.refused_report}."
            )
        return text
