"""Dataset importers: goodbooks-10k (and the shipped demo data in that layout) and MovieLens.

Rules every importer follows:
- every file is parsed and checked completely before anything is written; a problem is an
  `ImportFailed` naming the file, the 1-based line (the header is line 1) and what is wrong;
- everything is written in ONE transaction, so a failure leaves nothing of the import behind;
- the dataset's own user and item ids become primary keys (ratings and database agree); an id
  already held by a different book or user is refused; re-importing the same files inserts
  nothing (INSERT ... ON CONFLICT DO NOTHING) and reports every row as skipped;
- dataset readers become users `goodbooks-<id>` / `movielens-<id>` without a password;
- stars are stored as half-stars (stars * 2); on PostgreSQL the id sequences are advanced.
"""

from db.importers.common import ImportFailed, ImportReport
from db.importers.goodbooks import import_demo, import_goodbooks
from db.importers.movielens import import_movielens, write_ml100k_from_recbole

__all__ = [
    "ImportFailed",
    "ImportReport",
    "import_demo",
    "import_goodbooks",
    "import_movielens",
    "write_ml100k_from_recbole",
]
