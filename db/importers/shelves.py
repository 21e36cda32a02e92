"""Which Goodreads shelves are genres, and what to call them.

Real shelves are mostly noise ("to-read", "favorites", "owned", "kindle", "2015-reads");
only names in this curated vocabulary become categories. Common spellings of the same
genre ("sci-fi", "ya", "nonfiction") fold into one canonical shelf. Every shelf the demo
data uses (`scripts/make_demo_data.py`, `db/demo_data/tags.csv`) is here; a test checks it.
"""

from __future__ import annotations

# canonical shelf -> display name (the category name stored in the database)
GENRES: dict[str, str] = {
    "fantasy": "Fantasy",
    "science-fiction": "Science Fiction",
    "mystery": "Mystery",
    "thriller": "Thriller",
    "crime": "Crime",
    "romance": "Romance",
    "horror": "Horror",
    "classics": "Classics",
    "young-adult": "Young Adult",
    "childrens": "Children's",
    "historical-fiction": "Historical Fiction",
    "non-fiction": "Non-fiction",
    "biography": "Biography",
    "memoir": "Memoir",
    "history": "History",
    "science": "Science",
    "poetry": "Poetry",
    "plays": "Plays",
    "fiction": "Fiction",
    "literary-fiction": "Literary Fiction",
    "contemporary": "Contemporary",
    "graphic-novels": "Graphic Novels",
    "manga": "Manga",
    "philosophy": "Philosophy",
    "psychology": "Psychology",
    "religion": "Religion",
    "self-help": "Self-help",
    "business": "Business",
    "humor": "Humor",
    "dystopia": "Dystopia",
    "paranormal": "Paranormal",
    "adventure": "Adventure",
    "short-stories": "Short Stories",
    "travel": "Travel",
    "cookbooks": "Cookbooks",
    "art": "Art",
    "politics": "Politics",
    "true-crime": "True Crime",
    "westerns": "Westerns",
    "chick-lit": "Chick Lit",
}

# other spellings Goodreads readers use -> canonical shelf
ALIASES: dict[str, str] = {
    "sci-fi": "science-fiction",
    "scifi": "science-fiction",
    "sf": "science-fiction",
    "science-fiction-fantasy": "science-fiction",
    "mysteries": "mystery",
    "thrillers": "thriller",
    "suspense": "thriller",
    "classic": "classics",
    "classic-literature": "classics",
    "ya": "young-adult",
    "ya-fiction": "young-adult",
    "young-adult-fiction": "young-adult",
    "children": "childrens",
    "children-s": "childrens",
    "children-s-books": "childrens",
    "kids": "childrens",
    "historical": "historical-fiction",
    "nonfiction": "non-fiction",
    "biographies": "biography",
    "biography-memoir": "biography",
    "memoirs": "memoir",
    "graphic-novel": "graphic-novels",
    "comics": "graphic-novels",
    "comic-books": "graphic-novels",
    "drama": "plays",
    "theatre": "plays",
    "humour": "humor",
    "dystopian": "dystopia",
    "short-story": "short-stories",
    "cookbook": "cookbooks",
    "cooking": "cookbooks",
    "western": "westerns",
    "literary": "literary-fiction",
    "self-improvement": "self-help",
}

TOP_SHELVES_PER_BOOK = 3


def canonical_shelf(tag_name: str) -> str | None:
    """The genre a shelf name stands for, or None for a shelf that is not a genre."""
    name = tag_name.strip().lower().replace("_", "-").replace(" ", "-")
    name = ALIASES.get(name, name)
    return name if name in GENRES else None


def display_name(shelf: str) -> str:
    return GENRES[shelf]
