"""Dataset importers: goodbooks-10k (and the shipped demo data in that layout) and MovieLens.

Rules every importer follows:
- every line of every file is checked; a problem is an `ImportFailed` naming the file, the
  1-based line (the header is line 1) and what is wrong. Catalog files are checked whole
  before anything is written; rating files, which may hold millions of lines, are streamed
  in chunks of lines (memory stays bounded), each chunk checked before it is written;
- everything is written in ONE transaction, so a failure (a bad line, even the last one of
  the rating file) leaves nothing of the import behind;
- the dataset's own user and item ids become primary keys (ratings and database agree); an id
  already held by a different book or user is refused; re-importing the same files inserts
  nothing (INSERT ... ON CONFLICT DO NOTHING) and reports every row as skipped;
- dataset readers become users `goodbooks-<id>` / `movielens-<id>` without a password;
- stars are stored as half-stars (stars * 2); on PostgreSQL the id sequences are advanced;
- with `ImportOptions(skip_invalid=True)` a bad rating line is refused alone instead of the
  whole import, and every refused line is listed with its reason in a report file.

The modules, one job each: `errors` and `report` (how an import fails, what it did),
`reading` and `columns` (strict reading and checking of catalog files), `ratings` (the
streamed rating files), `writing` and `bulk` (the one transaction, and the fast rating
inserts per backend), `refused` (the report of refused lines), then one module per dataset.
"""

from db.importers.errors import ImportFailed
from db.importers.goodbooks import import_demo, import_goodbooks
from db.importers.movielens import import_movielens
from db.importers.report import ImportReport
from db.importers.writing import ImportOptions

__all__ = [
    "ImportFailed",
    "ImportOptions",
    "ImportReport",
    "import_demo",
    "import_goodbooks",
    "import_movielens",
]
