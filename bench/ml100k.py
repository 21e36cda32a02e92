"""ML-100K for the quality benchmark: RecBole's copy rewritten in the original layout.

Benchmark input only, so it lives here and not in the `db.importers` package: the
MovieLens licence forbids redistribution, never commit the output.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from db.importers.movielens import ML100K_GENRES


def write_ml100k_from_recbole(src_dir: Path, out_dir: Path) -> Path:
    """Rewrite RecBole's copy of ML-100K (`ml-100k.inter`, `ml-100k.item`) in the original
    ML-100K layout (`u.data`, `u.item`, `u.genre`) so it goes through the real importer."""
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    inter = pd.read_csv(src_dir / "ml-100k.inter", sep="\t", dtype=str, keep_default_na=False)
    inter.columns = [c.split(":")[0] for c in inter.columns]
    with open(out_dir / "u.data", "w", encoding="latin-1", newline="\n") as out:
        for user, item, rating, stamp in zip(
            inter["user_id"], inter["item_id"], inter["rating"], inter["timestamp"], strict=True
        ):
            out.write(f"{user}\t{item}\t{int(float(rating))}\t{int(float(stamp))}\n")

    items = pd.read_csv(src_dir / "ml-100k.item", sep="\t", dtype=str, keep_default_na=False)
    items.columns = [c.split(":")[0] for c in items.columns]
    position = {name: i for i, name in enumerate(ML100K_GENRES)}
    with open(out_dir / "u.item", "w", encoding="latin-1", errors="replace", newline="\n") as out:
        for item, title, year, classes in zip(
            items["item_id"],
            items["movie_title"],
            items["release_year"],
            items["class"],
            strict=True,
        ):
            flags = ["0"] * len(ML100K_GENRES)
            for genre in classes.split():
                flags[position[genre]] = "1"
            title = title.replace("|", "/")
            year = year if year.isdigit() else ""
            full_title = f"{title} ({year})" if year else title
            date = f"01-Jan-{year}" if year else ""
            out.write(f"{item}|{full_title}|{date}|||{'|'.join(flags)}\n")
    with open(out_dir / "u.genre", "w", encoding="latin-1", newline="\n") as out:
        for i, name in enumerate(ML100K_GENRES):
            out.write(f"{name}|{i}\n")
        out.write("\n")
    return out_dir
