"""Build the shipped demo dataset in ``db/demo_data/`` (goodbooks-10k file layout).

    python scripts/make_demo_data.py [--books PATH/TO/books.csv] [--out DIR] [--quiet]

Reads the real goodbooks-10k catalog (CC BY-SA 4.0) and writes:

- ``books.csv``      the 2,500 most-rated English-language books, rows and columns copied
                     byte-for-byte from the source (original ``book_id`` values);
- ``tags.csv``       ``tag_id,tag_name``: one Goodreads-style shelf per demo category;
- ``book_tags.csv``  ``goodreads_book_id,tag_id,count``: 1-3 shelves per book, assigned by a
                     hand-curated author -> genre map (``demo_data/author_genres.csv``
                     beside this script), then title keywords, then ``fiction``;
- ``ratings.csv``    ``user_id,book_id,rating``: SYNTHETIC readers and stars (see
                     ``simulate_ratings``), no real Goodreads user data.

Deterministic: a fixed seed, no clock, no hashing of Python objects; running it twice, or
running it on the shipped ``books.csv`` instead of the full catalog, writes identical files.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BOOKS = REPO_ROOT / ".." / "shared" / "data" / "goodbooks-10k" / "books.csv"
DEFAULT_OUT = REPO_ROOT / "db" / "demo_data"

SEED = 20171
N_BOOKS = 2500
N_READERS = 3000
TARGET_RATINGS = 120_000
MIN_PER_READER = 5
MAX_PER_READER = 600
LATENT_DIM = 8
ENGLISH = ("eng", "en-US", "en-GB", "en-CA", "en")

# --------------------------------------------------------------------------------------
# Categories (Goodreads-style shelf names). The order fixes the tag ids.
# --------------------------------------------------------------------------------------
FAN = "fantasy"
SF = "science-fiction"
MYS = "mystery"
THR = "thriller"
ROM = "romance"
HOR = "horror"
CLA = "classics"
YA = "young-adult"
KID = "childrens"
HIS = "historical-fiction"
NF = "non-fiction"
BIO = "biography"
POE = "poetry"
PLAY = "plays"
GN = "graphic-novels"
SH = "self-help"
FIC = "fiction"
CATEGORIES = (FAN, SF, MYS, THR, ROM, HOR, CLA, YA, KID, HIS, NF, BIO, POE, PLAY, GN, SH, FIC)

# Hand-curated from general knowledge of what each author is known for (first listed genre
# is the primary shelf), kept as data in demo_data/author_genres.csv: ``author`` is the first
# name in the ``authors`` column, ``genres`` 1-3 shelves separated by spaces. It is a coarse
# author-level label: an author's odd book out (e.g. Stephen King's memoir "On Writing") is
# only corrected where a title keyword rule catches it.
AUTHOR_GENRES_CSV = Path(__file__).resolve().parent / "demo_data" / "author_genres.csv"


def read_author_genres(path: Path = AUTHOR_GENRES_CSV) -> dict[str, tuple[str, ...]]:
    """The author -> shelves map; a shelf that is not one of CATEGORIES is a mistake."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    genres: dict[str, tuple[str, ...]] = {}
    pairs = zip(table["author"], table["genres"], strict=True)
    for line, (author, shelves) in enumerate(pairs, start=2):
        names = tuple(shelves.split())
        unknown = [n for n in names if n not in CATEGORIES]
        if not 1 <= len(names) <= 3 or unknown or author in genres:
            raise ValueError(f"{path.name} line {line}: bad entry for {author!r}")
        genres[author] = names
    return genres


# Title keyword rules (case-insensitive regexes), applied in order. FORMAT rules name what
# kind of book it is and apply to every book: they add a shelf, and for a mapped author's
# odd book out they take the primary slot ("On Writing: A Memoir of the Craft" by Stephen
# King is a memoir, not horror). GENRE rules are weaker hints and only label books whose
# author is not in the map ("magic" in a self-help title is not fantasy).
FORMAT_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"\bpoems\b|\bpoetry\b|\bsonnets\b", (POE,)),
    (r"\ba memoir\b|\bautobiography\b", (BIO,)),
    (r"\bgraphic novel\b|\bvol\.\s*\d|\bvolume \d", (GN,)),
)
GENRE_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"\bcookbook\b|\brecipes\b|\bhow to cook\b", (NF,)),
    (r"\bmemoirs?\b|\bbiography\b|\bthe story of my life\b", (BIO, NF)),
    (r"\ba (brief |short )?history of\b|\bthe true story\b", (NF,)),
    (r"\bhow to\b|\bhabits\b|\bsecrets of success\b", (SH, NF)),
    (r"\bfairy tales\b|\bnursery rhymes\b", (KID,)),
    (r"\bmurders?\b|\bdetective\b", (MYS,)),
    (r"\bvampires?\b|\bzombies?\b|\bhaunted\b", (HOR,)),
    (r"\bdragons?\b|\bwizards?\b|\bsorcer", (FAN,)),
    (r"\blove story\b|\bbride\b|\bwedding\b", (ROM,)),
)

PRIMARY_SHARE = (1.0, 0.55, 0.3)  # tag count of 1st/2nd/3rd shelf relative to the 1st


def first_author(authors: str) -> str:
    return authors.split(",")[0].strip()


def keyword_genres(title: str, rules: tuple[tuple[str, tuple[str, ...]], ...]) -> list[str]:
    found: list[str] = []
    for pattern, genres in rules:
        if re.search(pattern, title, flags=re.IGNORECASE):
            found.extend(g for g in genres if g not in found)
    return found


def assign_genres(
    books: pd.DataFrame, author_genres: dict[str, tuple[str, ...]]
) -> tuple[list[list[str]], list[str]]:
    """Return 1-3 shelves per book (primary first) and how the book was labelled.

    The label is ``author`` (author map only), ``author+keyword`` (author map, with a
    format keyword adding or promoting a shelf), ``keyword`` (title rules only) or
    ``fallback`` (neither: ``fiction``).
    """
    shelves: list[list[str]] = []
    sources: list[str] = []
    for authors, title in zip(books["authors"], books["title"], strict=True):
        from_author = list(author_genres.get(first_author(authors), ()))
        formats = keyword_genres(title, FORMAT_RULES)
        if from_author:
            genres = [formats[0]] if formats else []
            genres += [g for g in from_author + formats if g not in genres]
            if genres[0] == BIO and from_author[0] != BIO:
                genres = [BIO, NF]  # a novelist's memoir takes none of their fiction shelves
            source = "author+keyword" if genres[:3] != from_author[:3] else "author"
        else:
            genres = formats + [g for g in keyword_genres(title, GENRE_RULES) if g not in formats]
            source = "keyword"
            if not genres:
                genres, source = [FIC], "fallback"
        shelves.append(genres[:3])
        sources.append(source)
    return shelves, sources


# --------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------
def select_catalog(source: pd.DataFrame) -> pd.DataFrame:
    """The N_BOOKS most-rated English books, in source (book_id) order, all as strings."""
    english = source[source["language_code"].isin(ENGLISH)].copy()
    english["_rc"] = english["ratings_count"].astype(np.int64)
    english["_id"] = english["book_id"].astype(np.int64)
    top = english.sort_values(["_rc", "_id"], ascending=[False, True], kind="mergesort")
    chosen = top.head(N_BOOKS).sort_values("_id", kind="mergesort")
    return chosen.drop(columns=["_rc", "_id"]).reset_index(drop=True)


def write_tags(books: pd.DataFrame, shelves: list[list[str]], out: Path) -> None:
    tags = pd.DataFrame({"tag_id": range(len(CATEGORIES)), "tag_name": CATEGORIES})
    tags.to_csv(out / "tags.csv", index=False, lineterminator="\n")
    tag_id = {name: i for i, name in enumerate(CATEGORIES)}
    rows = []
    for gr_id, rc, genres in zip(
        books["goodreads_book_id"], books["ratings_count"].astype(np.int64), shelves, strict=True
    ):
        top = max(1, int(rc) // 100)  # shelf counts scale with readership, primary largest
        for rank, genre in enumerate(genres):
            rows.append((int(gr_id), tag_id[genre], max(1, int(top * PRIMARY_SHARE[rank]))))
    book_tags = pd.DataFrame(rows, columns=["goodreads_book_id", "tag_id", "count"])
    book_tags.to_csv(out / "book_tags.csv", index=False, lineterminator="\n")


# --------------------------------------------------------------------------------------
# Synthetic readers and ratings
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ratings:
    user_id: np.ndarray
    book_index: np.ndarray
    rating: np.ndarray
    taste: np.ndarray  # the reader-specific shift (logit units) behind each star


def simulate_ratings(
    books: pd.DataFrame, shelves: list[list[str]], rng: np.random.Generator
) -> Ratings:
    """Synthetic readers whose choices and stars follow categories + latent factors.

    Which books: reader u picks n_u books (lognormal, >= MIN_PER_READER) without
    replacement, with weight  ratings_count^ALPHA * category_affinity(u, b) * exp(BETA * s_ub),
    where category_affinity mixes the reader's Dirichlet preference over 1-3 favourite
    categories with a small uniform floor, and s_ub = <user vector, book vector> (8-dim;
    book vectors lean towards a per-category centroid so the two kinds of taste agree).

    Which star: an ordered-logit shift of the book's REAL histogram (ratings_1..5):
    P(star <= k) = sigmoid(c_bk - delta_ub), with the reader's taste shift
    delta_ub = GAMMA * (s_ub - mean of s over the book's raters) + reader bias (zero-mean).
    The cut points c_bk are solved per book so that the raters' AVERAGE P(star <= k) equals
    the real cumulative share F_k: the expected per-book histogram is the real one, while
    who gives the high and the low stars is decided by personal taste (learnable: reader
    bias plus the category-aligned latent factors). Per-book uniforms are stratified (one
    per 1/n slice, shuffled) so small books' sample means stay close to the real means.
    """
    alpha, beta, gamma = 0.9, 0.6, 2.5
    n_books, n_cat = len(books), len(CATEGORIES)

    # Book side: category membership and latent vectors.
    membership = np.zeros((n_books, n_cat))
    cat_index = {name: i for i, name in enumerate(CATEGORIES)}
    for b, genres in enumerate(shelves):
        weights = np.array(PRIMARY_SHARE[: len(genres)])
        membership[b, [cat_index[g] for g in genres]] = weights / weights.sum()
    centroids = rng.normal(0.0, 1.0, (n_cat, LATENT_DIM))
    book_vec = membership @ centroids + 0.5 * rng.normal(0.0, 1.0, (n_books, LATENT_DIM))
    book_vec /= np.sqrt(LATENT_DIM)

    # Reader side: favourite categories (weighted by how common they are), Dirichlet prefs.
    cat_popularity = membership.sum(axis=0) + 1.0
    cat_popularity /= cat_popularity.sum()
    prefs = np.full((N_READERS, n_cat), 0.15 / n_cat)
    for u in range(N_READERS):
        k = int(rng.integers(1, 4))
        fav = rng.choice(n_cat, size=k, replace=False, p=cat_popularity)
        prefs[u, fav] += 0.85 * rng.dirichlet(np.ones(k))
    user_vec = prefs @ centroids / np.linalg.norm(prefs, axis=1, keepdims=True)
    user_vec = (user_vec + 0.5 * rng.normal(0.0, 1.0, (N_READERS, LATENT_DIM))) / np.sqrt(
        LATENT_DIM
    )
    # Rescale so the latent score s_ub = <user, book> has unit spread over all pairs.
    scale = np.sqrt(np.std(user_vec @ book_vec.T))
    user_vec, book_vec = user_vec / scale, book_vec / scale
    user_bias = rng.normal(0.0, 0.45, N_READERS)
    user_bias -= user_bias.mean()

    # Long-tailed activity, scaled to the target total.
    raw = rng.lognormal(mean=0.0, sigma=0.95, size=N_READERS)
    n_per_user = np.clip(
        np.round(MIN_PER_READER + raw * (TARGET_RATINGS - MIN_PER_READER * N_READERS) / raw.sum()),
        MIN_PER_READER,
        MAX_PER_READER,
    ).astype(np.int64)

    log_pop = alpha * np.log(books["ratings_count"].astype(np.float64).to_numpy())
    users, items, scores = [], [], []
    for start in range(0, N_READERS, 500):
        stop = min(start + 500, N_READERS)
        s = user_vec[start:stop] @ book_vec.T
        affinity = prefs[start:stop] @ membership.T + 0.02
        logits = log_pop[None, :] + np.log(affinity) + beta * s
        keys = logits + rng.gumbel(size=logits.shape)  # Gumbel top-k = sampling w/o replacement
        order = np.argsort(-keys, axis=1, kind="stable")
        for row in range(stop - start):
            chosen = order[row, : n_per_user[start + row]]
            users.append(np.full(len(chosen), start + row))
            items.append(chosen)
            scores.append(s[row, chosen])
    user_idx = np.concatenate(users)
    book_idx = np.concatenate(items)
    score = np.concatenate(scores)

    # Centre the latent score per book over its raters.
    counts = np.bincount(book_idx, minlength=n_books)
    mean_score = np.bincount(book_idx, weights=score, minlength=n_books) / np.maximum(counts, 1)
    delta = gamma * (score - mean_score[book_idx]) + user_bias[user_idx]
    taste = delta.copy()

    hist = books[[f"ratings_{k}" for k in range(1, 6)]].astype(np.float64).to_numpy()
    cdf = np.cumsum(hist / hist.sum(axis=1, keepdims=True), axis=1)[:, :4]

    # Stratified uniforms per book: the j-th rater (random order) gets (perm_j + U) / n_b.
    order = np.lexsort((rng.random(len(book_idx)), book_idx))
    rank_in_book = np.empty(len(book_idx), dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank_in_book[order] = np.arange(len(book_idx)) - np.repeat(starts, counts)
    uniform = (rank_in_book + rng.random(len(book_idx))) / counts[book_idx]

    # Calibrate: each reader sees the book's cut points shifted by delta, so the raters'
    # average star distribution would be wider than the real one. Solve, per book and cut
    # point k, the cut point that makes the raters' average P(star <= k) equal the real F_k
    # (bisection; monotone in the cut point, so the cut points stay ordered). The expected
    # per-book histogram then equals the real one, whatever the strength of personal taste.
    low = np.full((n_books, 4), -15.0)
    high = np.full((n_books, 4), 15.0)
    target = cdf * counts[:, None]
    for _ in range(40):
        mid = (low + high) / 2
        p_le = 1.0 / (1.0 + np.exp(-(mid[book_idx] - delta[:, None])))
        total = np.stack(
            [np.bincount(book_idx, weights=p_le[:, k], minlength=n_books) for k in range(4)],
            axis=1,
        )
        too_high = total > target
        high = np.where(too_high, mid, high)
        low = np.where(too_high, low, mid)
    thresholds = (low + high) / 2

    shifted_cdf = 1.0 / (1.0 + np.exp(-(thresholds[book_idx] - delta[:, None])))
    rating = 1 + (uniform[:, None] > shifted_cdf).sum(axis=1)
    return Ratings(user_idx + 1, book_idx, rating.astype(np.int64), taste)


# --------------------------------------------------------------------------------------
# Driver and report
# --------------------------------------------------------------------------------------
def build(books_path: Path, out: Path, quiet: bool = False) -> None:
    source = pd.read_csv(books_path, dtype=str, keep_default_na=False)
    books = select_catalog(source)
    out.mkdir(parents=True, exist_ok=True)
    # Strings in, strings out: every field is written exactly as it appears in the source.
    books.to_csv(out / "books.csv", index=False, lineterminator="\n")

    shelves, sources = assign_genres(books, read_author_genres())
    write_tags(books, shelves, out)

    rng = np.random.default_rng(SEED)
    sim = simulate_ratings(books, shelves, rng)
    book_ids = books["book_id"].astype(np.int64).to_numpy()
    ratings = pd.DataFrame(
        {"user_id": sim.user_id, "book_id": book_ids[sim.book_index], "rating": sim.rating}
    ).sort_values(["user_id", "book_id"], kind="mergesort")
    ratings.to_csv(out / "ratings.csv", index=False, lineterminator="\n")

    if not quiet:
        report(books, shelves, sources, ratings, sim)


def report(
    books: pd.DataFrame,
    shelves: list[list[str]],
    sources: list[str],
    ratings: pd.DataFrame,
    sim: Ratings,
) -> None:
    per_user = ratings.groupby("user_id").size()
    per_book = ratings.groupby("book_id").size().sort_values(ascending=False)
    top_n = len(books) // 10
    print(f"books {len(books)}  readers {per_user.size}  ratings {len(ratings)}")
    print(
        f"ratings per reader: min {per_user.min()}  median {per_user.median():.0f}  "
        f"mean {per_user.mean():.1f}  max {per_user.max()}"
    )
    print(
        f"books rated {per_book.size}/{len(books)}; ratings per book: min "
        f"{per_book.min()}  median {per_book.median():.0f}  max {per_book.max()}"
    )
    top_share = per_book.head(top_n).sum() / len(ratings)
    print(f"share of ratings on the top 10% of books: {top_share:.1%}")
    print(
        f"mean star {ratings['rating'].mean():.3f}; star shares "
        + " ".join(f"{k}:{(ratings['rating'] == k).mean():.1%}" for k in range(1, 6))
    )

    print(
        "\nshelf source of each book's primary category:",
        pd.Series(sources).value_counts().to_dict(),
    )
    primary = pd.Series([g[0] for g in shelves]).value_counts()
    anywhere = pd.Series([g for gs in shelves for g in gs]).value_counts()
    print(f"{'category':20s} {'primary':>8s} {'tagged':>8s}")
    for name in CATEGORIES:
        print(f"{name:20s} {primary.get(name, 0):8d} {anywhere.get(name, 0):8d}")

    hist = books[[f"ratings_{k}" for k in range(1, 6)]].astype(np.float64).to_numpy()
    real_mean = pd.Series(
        hist @ np.arange(1, 6) / hist.sum(axis=1),
        index=books["book_id"].astype(np.int64).to_numpy(),
    )
    synth = ratings.groupby("book_id")["rating"].agg(["mean", "size"])
    title = pd.Series(books["title"].to_numpy(), index=real_mean.index)
    print("\nreal vs synthetic mean star, 20 most-rated books (in the demo ratings):")
    for book_id in per_book.head(20).index:
        print(
            f"  {title[book_id][:48]:48s} real {real_mean[book_id]:.2f}  "
            f"synthetic {synth.loc[book_id, 'mean']:.2f}  (n={synth.loc[book_id, 'size']})"
        )
    both = synth.join(real_mean.rename("real"))
    for floor in (1, 20):
        sel = both[both["size"] >= floor]
        print(
            f"correlation of per-book means, books with >= {floor} ratings "
            f"({len(sel)}): {np.corrcoef(sel['mean'], sel['real'])[0, 1]:.3f}"
        )

    # Per-book star shares: real histogram vs synthetic, total variation distance.
    shares = pd.crosstab(ratings["book_id"], ratings["rating"], normalize="index")
    shares = shares.reindex(columns=range(1, 6), fill_value=0.0)
    real_shares = pd.DataFrame(
        hist / hist.sum(axis=1, keepdims=True), index=real_mean.index, columns=range(1, 6)
    ).loc[shares.index]
    tv = 0.5 * (shares - real_shares).abs().sum(axis=1)
    big = synth["size"].reindex(shares.index) >= 100
    print(
        f"star-share total variation distance real vs synthetic: median {tv.median():.3f} "
        f"(books with >= 100 ratings: {tv[big].median():.3f}, n={int(big.sum())})"
    )
    star = sim.rating.astype(np.float64)
    book_mean = np.bincount(sim.book_index, weights=star) / np.bincount(sim.book_index)
    print(
        "personal taste signal: corr(star - book mean, reader taste shift) = "
        f"{np.corrcoef(star - book_mean[sim.book_index], sim.taste)[0, 1]:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--books",
        type=Path,
        default=DEFAULT_BOOKS,
        help="goodbooks-10k books.csv (default: %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output directory (default: %(default)s)"
    )
    parser.add_argument("--quiet", action="store_true", help="skip the summary report")
    args = parser.parse_args(argv)
    build(args.books, args.out, quiet=args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
