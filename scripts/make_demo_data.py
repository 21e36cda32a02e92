"""Build the shipped demo dataset in ``db/demo_data/`` (goodbooks-10k file layout).

    python scripts/make_demo_data.py [--books PATH/TO/books.csv] [--out DIR] [--quiet]

Reads the real goodbooks-10k catalog (CC BY-SA 4.0) and writes:

- ``books.csv``      the 2,500 most-rated English-language books, rows and columns copied
                     byte-for-byte from the source (original ``book_id`` values);
- ``tags.csv``       ``tag_id,tag_name``: one Goodreads-style shelf per demo category;
- ``book_tags.csv``  ``goodreads_book_id,tag_id,count``: 1-3 shelves per book, assigned by a
                     hand-curated author -> genre map, then title keywords, then ``fiction``;
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
# is the primary shelf). Keyed by the first name in the ``authors`` column. It is a coarse
# author-level label: an author's odd book out (e.g. Stephen King's memoir "On Writing") is
# only corrected where a title keyword rule catches it.
AUTHOR_GENRES: dict[str, tuple[str, ...]] = {
    # --- fantasy / urban fantasy / paranormal ---
    "J.K. Rowling": (FAN, YA, KID),
    "J.R.R. Tolkien": (FAN, CLA),
    "C.S. Lewis": (FAN, KID, CLA),
    "George R.R. Martin": (FAN,),
    "Terry Pratchett": (FAN, FIC),
    "Neil Gaiman": (FAN, FIC),
    "Robert Jordan": (FAN,),
    "Brandon Sanderson": (FAN,),
    "Jim Butcher": (FAN, MYS),
    "Terry Goodkind": (FAN,),
    "David Eddings": (FAN,),
    "Robin Hobb": (FAN,),
    "Brent Weeks": (FAN,),
    "Raymond E. Feist": (FAN,),
    "Patrick Rothfuss": (FAN,),
    "Scott Lynch": (FAN,),
    "Joe Abercrombie": (FAN,),
    "Lev Grossman": (FAN, FIC),
    "Ursula K. Le Guin": (FAN, SF, CLA),
    "Christopher Paolini": (FAN, YA),
    "Philip Pullman": (FAN, YA),
    "Cornelia Funke": (FAN, KID),
    "Tamora Pierce": (FAN, YA),
    "Sarah J. Maas": (FAN, YA, ROM),
    "Leigh Bardugo": (FAN, YA),
    "Garth Nix": (FAN, YA),
    "Diana Wynne Jones": (FAN, KID),
    "Terry Brooks": (FAN,),
    "Margaret Weis": (FAN,),
    "R.A. Salvatore": (FAN,),
    "Steven Erikson": (FAN,),
    "Tad Williams": (FAN,),
    "Mark  Lawrence": (FAN,),
    "Anthony  Ryan": (FAN,),
    "Peter V. Brett": (FAN,),
    "Naomi Novik": (FAN,),
    "Susanna Clarke": (FAN, HIS),
    "Erin Morgenstern": (FAN, FIC),
    "Marion Zimmer Bradley": (FAN, HIS),
    "T.H. White": (FAN, CLA),
    "Peter S. Beagle": (FAN, CLA),
    "Anne McCaffrey": (FAN, SF),
    "Jacqueline Carey": (FAN, ROM),
    "Trudi Canavan": (FAN,),
    "Kevin Hearne": (FAN,),
    "Patricia Briggs": (FAN, ROM),
    "Ilona Andrews": (FAN, ROM),
    "Kim Harrison": (FAN,),
    "Laurell K. Hamilton": (FAN, HOR),
    "Charlaine Harris": (FAN, MYS, ROM),
    "Karen Marie Moning": (FAN, ROM),
    "Jeaniene Frost": (FAN, ROM),
    "Anne Rice": (HOR, FAN, CLA),
    "Deborah Harkness": (FAN, ROM, HIS),
    "Gail Carriger": (FAN, ROM),
    "Darynda Jones": (FAN, MYS),
    "Chloe Neill": (FAN, ROM),
    "China Miéville": (FAN, SF),
    "Juliet Marillier": (FAN, HIS),
    "V.E. Schwab": (FAN,),
    "Jasper Fforde": (FAN, MYS),
    "Christopher Moore": (FAN, FIC),
    "Michael Ende": (FAN, KID, CLA),
    "Helene Wecker": (FAN, HIS),
    "Jonathan Stroud": (FAN, YA),
    "Brandon Mull": (FAN, KID),
    "Angie Sage": (FAN, KID),
    "John Flanagan": (FAN, YA),
    "Brian Jacques": (FAN, KID),
    "Lloyd Alexander": (FAN, KID),
    "Michael Scott": (FAN, YA),
    "Eoin Colfer": (FAN, YA, KID),
    "Rick Riordan": (FAN, YA, KID),
    "Chris Colfer": (FAN, KID),
    "Erin Hunter": (FAN, KID),
    "Shannon Hale": (FAN, YA),
    "Gail Carson Levine": (FAN, KID),
    "Robin McKinley": (FAN, YA),
    "Patricia C. Wrede": (FAN, KID),
    "Susan Cooper": (FAN, KID),
    "Megan Whalen Turner": (FAN, YA),
    "Kristin Cashore": (FAN, YA),
    "Maria V. Snyder": (FAN, ROM),
    "Cinda Williams Chima": (FAN, YA),
    "Laini Taylor": (FAN, YA),
    "Julie Kagawa": (FAN, YA),
    "Holly Black": (FAN, YA),
    "Melissa Marr": (FAN, YA),
    "Rachel Hawkins": (FAN, YA),
    "Maggie Stiefvater": (FAN, YA, ROM),
    "Cassandra Clare": (FAN, YA),
    "Richelle Mead": (FAN, YA, ROM),
    "P.C. Cast": (FAN, YA),
    "L.J. Smith": (FAN, YA, HOR),
    "Stephenie Meyer": (FAN, YA, ROM),
    "Becca Fitzpatrick": (FAN, YA, ROM),
    "Lauren Kate": (FAN, YA, ROM),
    "Kami Garcia": (FAN, YA),
    "Alyson Noel": (FAN, YA),
    "Melissa de la Cruz": (FAN, YA),
    "Rachel Caine": (FAN, YA, HOR),
    "Kelley Armstrong": (FAN, YA),
    "Claudia Gray": (FAN, YA),
    "Cynthia Hand": (FAN, YA),
    "Andrea Cremer": (FAN, YA),
    "Aprilynne Pike": (FAN, YA),
    "Alexandra Adornetto": (FAN, YA),
    "Josephine Angelini": (FAN, YA),
    "Sophie Jordan": (FAN, YA),
    "Aimee Carter": (FAN, YA),
    "Amy Plum": (FAN, YA),
    "Rosamund Hodge": (FAN, YA),
    "Colleen Houck": (FAN, YA),
    "Amanda Hocking": (FAN, YA),
    "Kiersten White": (FAN, YA),
    "Wendy Higgins": (FAN, YA),
    "Carrie Jones": (FAN, YA),
    "Ellen Schreiber": (FAN, YA),
    "C.C. Hunter": (FAN, YA),
    "Libba Bray": (FAN, YA, HIS),
    "Rae Carson": (FAN, YA),
    "Marie Rutkoski": (FAN, YA),
    "Mary E. Pearson": (FAN, YA),
    "Sabaa Tahir": (FAN, YA),
    "Renee Ahdieh": (FAN, YA),
    "Erika Johansen": (FAN,),
    "Robin LaFevers": (FAN, YA, HIS),
    "Alison Goodman": (FAN, YA),
    "Jennifer A. Nielsen": (FAN, YA),
    "Kerstin Gier": (FAN, YA),
    "Catherine Fisher": (FAN, YA),
    "Susan Ee": (FAN, YA),
    "Sherrilyn Kenyon": (FAN, ROM),
    "J.R. Ward": (ROM, FAN),
    "Kresley Cole": (ROM, FAN),
    "Nalini Singh": (ROM, FAN),
    "Gena Showalter": (ROM, FAN),
    "Lara Adrian": (ROM, FAN),
    "Larissa Ione": (ROM, FAN),
    "MaryJanice Davidson": (ROM, FAN),
    "Jennifer L. Armentrout": (FAN, YA, ROM),
    "Sylvain Reynard": (ROM,),
    "Amish Tripathi": (FAN, HIS),
    "Newt Scamander": (FAN, KID),
    "Kennilworthy Whisp": (FAN, KID),
    "John Tiffany": (FAN, PLAY, YA),
    "Gregory Maguire": (FAN, FIC),
    "John Connolly": (FAN, HOR),
    "Eowyn Ivey": (FAN, HIS),
    "Madeline Miller": (FAN, HIS),
    "Danielle  Paige": (FAN, YA),
    "Pseudonymous Bosch": (MYS, KID),
    "Trenton Lee Stewart": (MYS, KID),
    "Dave Barry": (FAN, KID),
    # --- science fiction / dystopia ---
    "Isaac Asimov": (SF, CLA),
    "Frank Herbert": (SF, CLA),
    "Orson Scott Card": (SF, YA),
    "Douglas Adams": (SF, FIC, CLA),
    "Arthur C. Clarke": (SF, CLA),
    "Robert A. Heinlein": (SF, CLA),
    "Philip K. Dick": (SF, CLA),
    "Ray Bradbury": (SF, CLA, FIC),
    "H.G. Wells": (SF, CLA),
    "Jules Verne": (SF, CLA),
    "Neal Stephenson": (SF,),
    "William Gibson": (SF,),
    "Dan Simmons": (SF,),
    "Larry Niven": (SF,),
    "John Scalzi": (SF,),
    "James S.A. Corey": (SF,),
    "Hugh Howey": (SF,),
    "Pierce Brown": (SF, YA),
    "Andy Weir": (SF,),
    "Ernest Cline": (SF,),
    "Joe Haldeman": (SF,),
    "Iain M. Banks": (SF,),
    "Kim Stanley Robinson": (SF,),
    "Richard K. Morgan": (SF,),
    "Paolo Bacigalupi": (SF,),
    "Stanisław Lem": (SF, CLA),
    "Walter M. Miller Jr.": (SF, CLA),
    "Octavia E. Butler": (SF, HIS),
    "Mary Doria Russell": (SF,),
    "Timothy Zahn": (SF,),
    "John Wyndham": (SF, CLA),
    "Yevgeny Zamyatin": (SF, CLA),
    "Blake Crouch": (SF, THR),
    "Jeff VanderMeer": (SF, HOR),
    "Emily St. John Mandel": (SF, FIC),
    "Justin Cronin": (HOR, SF),
    "M.R. Carey": (HOR, SF),
    "Mira Grant": (SF, HOR),
    "Michael Crichton": (SF, THR),
    "Carl Sagan": (NF, SF),
    "Aldous Huxley": (CLA, SF),
    "George Orwell": (CLA, SF),
    "Kurt Vonnegut Jr.": (CLA, SF, FIC),
    "Anthony Burgess": (CLA, SF),
    "Margaret Atwood": (FIC, SF, CLA),
    "Kazuo Ishiguro": (FIC, SF),
    "Suzanne Collins": (YA, SF),
    "Veronica Roth": (YA, SF),
    "James Dashner": (YA, SF),
    "Scott Westerfeld": (YA, SF),
    "Marissa Meyer": (YA, SF, FAN),
    "Lauren Oliver": (YA, SF, ROM),
    "Ally Condie": (YA, SF, ROM),
    "Marie Lu": (YA, SF),
    "Kiera Cass": (YA, SF, ROM),
    "Tahereh Mafi": (YA, SF),
    "Pittacus Lore": (YA, SF),
    "Rick Yancey": (YA, SF),
    "Beth Revis": (YA, SF),
    "Veronica Rossi": (YA, SF),
    "Alexandra Bracken": (YA, SF),
    "Victoria Aveyard": (YA, FAN),
    "Lauren DeStefano": (YA, SF),
    "Neal Shusterman": (YA, SF),
    "Susan Beth Pfeffer": (YA, SF),
    "Amie Kaufman": (YA, SF),
    "Dan Wells": (YA, SF),
    "M.T. Anderson": (YA, SF),
    "Moira Young": (YA, SF),
    "Ann Aguirre": (YA, SF),
    "Michael  Grant": (YA, SF),
    "Lois Lowry": (YA, SF, KID),
    "Jeanne DuPrau": (KID, SF),
    "Madeleine L'Engle": (KID, SF, CLA),
    "Margaret Peterson Haddix": (KID, SF),
    "Nancy Farmer": (YA, SF),
    "Karen Thompson Walker": (FIC, SF),
    "Max Brooks": (HOR, SF),
    # --- horror ---
    "Stephen King": (HOR, THR, FIC),
    "Richard Bachman": (HOR, THR),
    "Dean Koontz": (HOR, THR),
    "Joe Hill": (HOR, FAN),
    "Peter Straub": (HOR,),
    "Shirley Jackson": (HOR, CLA),
    "Bram Stoker": (HOR, CLA),
    "Mary Wollstonecraft Shelley": (CLA, HOR, SF),
    "Edgar Allan Poe": (HOR, CLA, POE),
    "Richard Matheson": (HOR, SF),
    "William Peter Blatty": (HOR,),
    "Ira Levin": (HOR, CLA),
    "Jay Anson": (HOR,),
    "David Seltzer": (HOR,),
    "Guillermo del Toro": (HOR,),
    "John Ajvide Lindqvist": (HOR,),
    "Mark Z. Danielewski": (HOR, FIC),
    "Seth Grahame-Smith": (HOR, FAN),
    "Kendare Blake": (HOR, YA),
    "Carrie Ryan": (HOR, YA),
    "Ransom Riggs": (FAN, YA),
    "Roberto Aguirre-Sacasa": (GN, HOR),
    "V.C. Andrews": (HOR, FIC),
    "Iain Banks": (HOR, FIC),
    "Peter Benchley": (THR, HOR),
    "Gaston Leroux": (CLA, HOR),
    "Geoffrey Crayon": (CLA, HOR),
    # --- mystery / crime ---
    "Agatha Christie": (MYS, CLA),
    "Arthur Conan Doyle": (MYS, CLA),
    "Janet Evanovich": (MYS, ROM),
    "Sue Grafton": (MYS,),
    "Tana French": (MYS,),
    "Robert Galbraith": (MYS,),
    "Louise Penny": (MYS,),
    "Alan Bradley": (MYS,),
    "Alexander McCall Smith": (MYS, FIC),
    "Raymond Chandler": (MYS, CLA),
    "Dashiell Hammett": (MYS, CLA),
    "Wilkie Collins": (MYS, CLA),
    "Elizabeth Peters": (MYS, HIS),
    "Jacqueline Winspear": (MYS, HIS),
    "Laurie R. King": (MYS, HIS),
    "Caleb Carr": (MYS, HIS),
    "J.D. Robb": (MYS, ROM),
    "Kathy Reichs": (MYS, THR),
    "Patricia Cornwell": (MYS, THR),
    "Tess Gerritsen": (MYS, THR),
    "Michael Connelly": (MYS, THR),
    "Jo Nesbø": (MYS, THR),
    "Henning Mankell": (MYS,),
    "Stieg Larsson": (MYS, THR),
    "David Lagercrantz": (MYS, THR),
    "Dennis Lehane": (MYS, THR),
    "Jeffery Deaver": (MYS, THR),
    "Jonathan Kellerman": (MYS, THR),
    "John Sandford": (MYS, THR),
    "Tami Hoag": (MYS, THR),
    "Karin Slaughter": (MYS, THR),
    "Harlan Coben": (MYS, THR),
    "James Ellroy": (MYS,),
    "Martin Cruz Smith": (MYS,),
    "Tom Rob Smith": (THR, HIS),
    "Richard Castle": (MYS,),
    "Oliver Pötzsch": (HIS, MYS),
    "Umberto Eco": (HIS, MYS, CLA),
    "Carolyn Keene": (MYS, KID),
    "Ellen Raskin": (MYS, KID),
    "Jeff Lindsay": (MYS, THR),
    "Kimberly Derting": (MYS, YA),
    "Sara Shepard": (MYS, YA),
    "Ally Carter": (YA, MYS),
    "Anthony Horowitz": (THR, YA),
    "P.D. James": (MYS, HIS),
    "Truman Capote": (CLA, NF),
    "Vincent Bugliosi": (NF, HIS),
    # --- thrillers / suspense ---
    "James Patterson": (THR, MYS),
    "John Grisham": (THR, MYS),
    "Lee Child": (THR,),
    "Dan Brown": (THR, MYS),
    "Robert Ludlum": (THR,),
    "Tom Clancy": (THR,),
    "David Baldacci": (THR, MYS),
    "Vince Flynn": (THR,),
    "Frederick Forsyth": (THR,),
    "Terry Hayes": (THR,),
    "James Rollins": (THR,),
    "Douglas Preston": (THR, HOR),
    "Robin Cook": (THR,),
    "Sidney Sheldon": (THR,),
    "Ian Fleming": (THR, CLA),
    "Thomas Harris": (THR, HOR),
    "Gillian Flynn": (THR, MYS),
    "Paula Hawkins": (THR, MYS),
    "Ruth Ware": (THR, MYS),
    "S.J. Watson": (THR, MYS),
    "A.S.A. Harrison": (THR,),
    "Mary Kubica": (THR, MYS),
    "B.A. Paris": (THR,),
    "Shari Lapena": (THR, MYS),
    "Clare Mackintosh": (THR, MYS),
    "Jessica Knoll": (THR, FIC),
    "Chevy Stevens": (THR,),
    "Noah Hawley": (THR, MYS),
    "William Landay": (THR, MYS),
    "Kimberly McCreight": (THR, MYS),
    "Dot Hutchison": (THR, HOR),
    "Lisa McMann": (YA, FAN),
    "Michelle Hodkin": (YA, FAN, MYS),
    "Lucy Christopher": (YA, THR),
    "Caroline B. Cooney": (YA, MYS),
    "Patrick Süskind": (FIC, HOR, HIS),
    "Daphne du Maurier": (CLA, MYS, ROM),
    "Mario Puzo": (FIC, CLA),
    # --- romance / women's fiction / new adult ---
    "Nicholas Sparks": (ROM, FIC),
    "Nora Roberts": (ROM,),
    "Colleen Hoover": (ROM,),
    "Abbi Glines": (ROM,),
    "Jamie McGuire": (ROM,),
    "E.L. James": (ROM,),
    "Sylvia Day": (ROM,),
    "Kristen Ashley": (ROM,),
    "Christina Lauren": (ROM,),
    "S.C. Stephens": (ROM,),
    "Jodi Ellen Malpas": (ROM,),
    "R.K. Lilley": (ROM,),
    "Rebecca Donovan": (ROM, YA),
    "R.L. Mathewson": (ROM,),
    "Katy Evans": (ROM,),
    "Raine Miller": (ROM,),
    "J. Kenner": (ROM,),
    "Tina Reber": (ROM,),
    "C.J. Roberts": (ROM,),
    "Maya Banks": (ROM,),
    "Kristen Proby": (ROM,),
    "Nicole  Williams": (ROM,),
    "Jessica Sorensen": (ROM,),
    "Samantha Young": (ROM,),
    "Alice Clayton": (ROM,),
    "Tammara Webber": (ROM,),
    "J.A. Redmerski": (ROM,),
    "J. Lynn": (ROM,),
    "Jennifer Probst": (ROM,),
    "Cora Carmack": (ROM,),
    "Jay Crownover": (ROM,),
    "Elle Kennedy": (ROM,),
    "Emma Chase": (ROM,),
    "Samantha Towle": (ROM,),
    "M. Leighton": (ROM,),
    "Mia Sheridan": (ROM,),
    "Kylie Scott": (ROM,),
    "K.A. Tucker": (ROM,),
    "Gail McHugh": (ROM,),
    "Georgia Cates": (ROM,),
    "J. Sterling": (ROM,),
    "Olivia Cunning": (ROM,),
    "Katie Ashley": (ROM,),
    "Cherrie Lynn": (ROM,),
    "Jasinda Wilder": (ROM,),
    "K. Bromberg": (ROM,),
    "Molly McAdams": (ROM,),
    "Jessica Park": (ROM, YA),
    "Katja Millay": (ROM, YA),
    "Kirsty Moseley": (ROM, YA),
    "Monica  Murphy": (ROM,),
    "Julie James": (ROM,),
    "Julia Quinn": (ROM, HIS),
    "Lisa Kleypas": (ROM, HIS),
    "Julie Garwood": (ROM, HIS),
    "Susan Elizabeth Phillips": (ROM,),
    "Jennifer Crusie": (ROM,),
    "Diana Gabaldon": (HIS, ROM, FAN),
    "Jude Deveraux": (ROM, HIS),
    "Susanna Kearsley": (HIS, ROM),
    "Francine Rivers": (ROM, HIS),
    "Sophie Kinsella": (ROM, FIC),
    "Emily Giffin": (ROM, FIC),
    "Jennifer Weiner": (FIC, ROM),
    "Jane Green": (ROM, FIC),
    "Marian Keyes": (FIC, ROM),
    "Helen Fielding": (ROM, FIC),
    "Lauren Weisberger": (FIC, ROM),
    "Emma McLaughlin": (FIC,),
    "Cecelia Ahern": (ROM, FIC),
    "Jojo Moyes": (ROM, FIC),
    "David Nicholls": (ROM, FIC),
    "Graeme Simsion": (ROM, FIC),
    "Sarah Addison Allen": (FIC, FAN, ROM),
    "Kevin Kwan": (FIC, ROM),
    "Robert James Waller": (ROM, FIC),
    "Ben Sherwood": (FIC, FAN),
    "Rosamunde Pilcher": (FIC, ROM),
    "Maeve Binchy": (FIC, ROM),
    "Elin Hilderbrand": (FIC, ROM),
    "Kristin Hannah": (HIS, FIC),
    "Meg Cabot": (YA, ROM),
    "Sarah Dessen": (YA, ROM),
    "Jenny Han": (YA, ROM),
    "Stephanie Perkins": (YA, ROM),
    "Simone Elkeles": (YA, ROM),
    "Rainbow Rowell": (YA, ROM),
    "Anna Godbersen": (YA, HIS, ROM),
    "Cecily von Ziegesar": (YA, ROM),
    "Ann Brashares": (YA, FIC),
    "Gayle Forman": (YA, ROM),
    "Jennifer E. Smith": (YA, ROM),
    "Huntley Fitzpatrick": (YA, ROM),
    "Katie McGarry": (YA, ROM),
    "Kasie West": (YA, ROM),
    "Morgan Matson": (YA, ROM),
    "Miranda Kenneally": (YA, ROM),
    "Kody Keplinger": (YA, ROM),
    "Nicola Yoon": (YA, ROM),
    "Jandy Nelson": (YA, ROM),
    "Rachel Cohn": (YA, ROM),
    "Louise Rennison": (YA, ROM),
    "Maureen Johnson": (YA, ROM),
    "Becky Albertalli": (YA, ROM),
    "E. Lockhart": (YA, MYS),
    # --- young adult (contemporary) ---
    "John Green": (YA, ROM, FIC),
    "Jay Asher": (YA, MYS),
    "Stephen Chbosky": (YA, FIC),
    "Laurie Halse Anderson": (YA, FIC),
    "Ellen Hopkins": (YA, POE),
    "Lauren Myracle": (YA,),
    "Ned Vizzini": (YA, FIC),
    "Sherman Alexie": (YA, FIC),
    "Jennifer Niven": (YA, ROM),
    "Jesse Andrews": (YA, FIC),
    "Jennifer Brown": (YA, FIC),
    "Patricia McCormick": (YA,),
    "Walter Dean Myers": (YA, FIC),
    "David Levithan": (YA, ROM),
    "Patrick Ness": (YA, SF, FAN),
    "Markus Zusak": (HIS, YA, FIC),
    "John Boyne": (HIS, YA),
    "Ruta Sepetys": (HIS, YA),
    "Elizabeth Wein": (HIS, YA),
    "S.E. Hinton": (YA, CLA),
    "Beatrice Sparks": (YA, NF),
    "Chetan Bhagat": (FIC, ROM),
    "Gabrielle Zevin": (FIC, YA),
    "Jerry Spinelli": (YA, KID),
    "Wendelin Van Draanen": (YA, ROM),
    "Curtis Sittenfeld": (FIC,),
    "Jonathan Safran Foer": (FIC,),
    # --- children's ---
    "Dr. Seuss": (KID, POE, CLA),
    "Roald Dahl": (KID, FAN, CLA),
    "Lemony Snicket": (KID, FAN, YA),
    "Jeff Kinney": (KID,),
    "Judy Blume": (KID, YA),
    "Louis Sachar": (KID, YA),
    "E.B. White": (KID, CLA),
    "Beverly Cleary": (KID, CLA),
    "Kate DiCamillo": (KID, FAN),
    "Shel Silverstein": (KID, POE),
    "Laura Joffe Numeroff": (KID,),
    "Bill Martin Jr.": (KID,),
    "Margaret Wise Brown": (KID, CLA),
    "P.D. Eastman": (KID,),
    "Don Freeman": (KID,),
    "Jon Scieszka": (KID,),
    "Eric Carle": (KID,),
    "Maurice Sendak": (KID, CLA),
    "Laura Ingalls Wilder": (KID, CLA, HIS),
    "L.M. Montgomery": (CLA, KID),
    "Frances Hodgson Burnett": (CLA, KID),
    "A.A. Milne": (KID, CLA),
    "Lewis Carroll": (CLA, FAN, KID),
    "Jane Carruth": (KID,),
    "J.M. Barrie": (CLA, FAN, KID),
    "L. Frank Baum": (CLA, FAN, KID),
    "Kenneth Grahame": (CLA, KID),
    "Anna Sewell": (CLA, KID),
    "Johanna Spyri": (CLA, KID),
    "Astrid Lindgren": (KID, CLA),
    "Beatrix Potter": (KID, CLA),
    "Margery Williams Bianco": (KID, CLA),
    "Carlo Collodi": (CLA, KID),
    "Howard Pyle": (CLA, KID),
    "Johann David Wyss": (CLA, KID),
    "Rudyard Kipling": (CLA, KID),
    "Hans Christian Andersen": (CLA, KID, FAN),
    "Jacob Grimm": (CLA, FAN, KID),
    "Aesop": (CLA, KID),
    "Antoine de Saint-Exupéry": (CLA, KID, FAN),
    "Norton Juster": (KID, FAN),
    "Natalie Babbitt": (KID, FAN),
    "Katherine Paterson": (KID, YA),
    "Scott O'Dell": (KID, HIS),
    "Gary Paulsen": (KID, YA),
    "R.J. Palacio": (KID, YA),
    "Chris Van Allsburg": (KID,),
    "Robert Munsch": (KID,),
    "Ludwig Bemelmans": (KID,),
    "Judith Viorst": (KID,),
    "Sharon Creech": (KID, YA),
    "Crockett Johnson": (KID,),
    "H.A. Rey": (KID,),
    "Sam McBratney": (KID,),
    "Judi Barrett": (KID,),
    "Jon Stone": (KID,),
    "Marcus Pfister": (KID,),
    "Gertrude Chandler Warner": (KID, MYS),
    "Mildred D. Taylor": (KID, HIS),
    "Janell Cannon": (KID,),
    "Katherine Applegate": (KID,),
    "Andrew Clements": (KID,),
    "P.L. Travers": (KID, CLA, FAN),
    "Watty Piper": (KID,),
    "Ezra Jack Keats": (KID,),
    "Clement C. Moore": (KID, POE),
    "Louise Fitzhugh": (KID,),
    "Harry Allard": (KID,),
    "Lynne Reid Banks": (KID, FAN),
    "Esphyr Slobodkina": (KID,),
    "Peggy Parish": (KID,),
    "Phyllis Reynolds Naylor": (KID,),
    "Patricia MacLachlan": (KID, HIS),
    "Arlene Mosel": (KID,),
    "David Shannon": (KID,),
    "Audrey Penn": (KID,),
    "Ian Falconer": (KID,),
    "Jean de Brunhoff": (KID,),
    "James Howe": (KID,),
    "George Selden": (KID, CLA),
    "Richard Atwater": (KID, CLA),
    "Pam Muñoz Ryan": (KID, HIS),
    "Else Holmelund Minarik": (KID,),
    "Gene Zion": (KID,),
    "Betty MacDonald": (KID,),
    "Kevin Henkes": (KID,),
    "Robert McCloskey": (KID,),
    "Walter Farley": (KID,),
    "Sheila Burnford": (KID,),
    "Arnold Lobel": (KID,),
    "Fred Gipson": (KID, CLA),
    "Avi": (KID, HIS),
    "Doreen Cronin": (KID,),
    "Jan Brett": (KID,),
    "Tomie dePaola": (KID,),
    "Rebecca Stead": (KID, YA),
    "Sharon M. Draper": (KID, YA),
    "Michael Bond": (KID, CLA),
    "Janette Sebring Lowrey": (KID,),
    "Mo Willems": (KID,),
    "Eugene Bradley Coco": (KID,),
    "Max Lucado": (KID,),
    "Adam Mansbach": (KID, NF),
    "Jean Craighead George": (KID,),
    "Christopher Paul Curtis": (KID, HIS),
    "E.L. Konigsburg": (KID, MYS),
    "Elizabeth George Speare": (KID, HIS),
    "Jane Yolen": (KID, HIS),
    "Patrick Carman": (KID, MYS),
    "Gordon Korman": (KID, MYS),
    "Peter Lerangis": (KID, MYS),
    "Linda Sue Park": (KID, MYS),
    "Brian Selznick": (KID, HIS),
    "Carl Hiaasen": (KID,),
    "Eleanor H. Porter": (CLA, KID),
    "Dodie Smith": (CLA, YA),
    # --- classics ---
    "Jane Austen": (CLA, ROM),
    "Charles Dickens": (CLA, HIS),
    "Charlotte Brontë": (CLA, ROM),
    "Emily Brontë": (CLA, ROM),
    "Anne Brontë": (CLA, ROM),
    "Mark Twain": (CLA, FIC),
    "F. Scott Fitzgerald": (CLA, FIC),
    "Ernest Hemingway": (CLA, FIC),
    "John Steinbeck": (CLA, FIC),
    "William Faulkner": (CLA, FIC),
    "Fyodor Dostoyevsky": (CLA, FIC),
    "Leo Tolstoy": (CLA, HIS),
    "Thomas Hardy": (CLA, ROM),
    "Virginia Woolf": (CLA, FIC),
    "James Joyce": (CLA, FIC),
    "Oscar Wilde": (CLA, FIC),
    "Robert Louis Stevenson": (CLA, HOR),
    "Jack London": (CLA, FIC),
    "Edith Wharton": (CLA, ROM),
    "E.M. Forster": (CLA, ROM),
    "Harper Lee": (CLA, FIC),
    "J.D. Salinger": (CLA, FIC),
    "William Golding": (CLA, FIC),
    "Louisa May Alcott": (CLA, KID),
    "Margaret Mitchell": (CLA, HIS, ROM),
    "Herman Melville": (CLA,),
    "Nathaniel Hawthorne": (CLA, HIS),
    "Joseph Heller": (CLA, FIC),
    "Ken Kesey": (CLA, FIC),
    "Vladimir Nabokov": (CLA, FIC),
    "Alexandre Dumas": (CLA, HIS),
    "Victor Hugo": (CLA, HIS),
    "Franz Kafka": (CLA, FIC),
    "Hermann Hesse": (CLA, FIC),
    "Albert Camus": (CLA, FIC),
    "Jean-Paul Sartre": (CLA, FIC),
    "Gabriel García Márquez": (CLA, FIC),
    "Jack Kerouac": (CLA, FIC),
    "Sylvia Plath": (CLA, POE),
    "Toni Morrison": (CLA, FIC),
    "Alice Walker": (CLA, FIC),
    "Zora Neale Hurston": (CLA, FIC),
    "Ralph Ellison": (CLA, FIC),
    "Richard Wright": (CLA, FIC),
    "Chinua Achebe": (CLA, FIC),
    "Joseph Conrad": (CLA,),
    "Erich Maria Remarque": (CLA, HIS),
    "Daniel Defoe": (CLA,),
    "Jonathan Swift": (CLA, FAN),
    "Gustave Flaubert": (CLA,),
    "Miguel de Cervantes Saavedra": (CLA,),
    "Voltaire": (CLA,),
    "Harriet Beecher Stowe": (CLA, HIS),
    "Kate Chopin": (CLA,),
    "Charlotte Perkins Gilman": (CLA, HOR),
    "Henry James": (CLA, HOR),
    "Mikhail Bulgakov": (CLA, FAN),
    "Boris Pasternak": (CLA, HIS),
    "Aleksandr Solzhenitsyn": (CLA, HIS),
    "Ivan Turgenev": (CLA,),
    "Nikolai Gogol": (CLA,),
    "John Knowles": (CLA, YA),
    "Stephen Crane": (CLA, HIS),
    "James Fenimore Cooper": (CLA, HIS),
    "Walter Scott": (CLA, HIS),
    "Emmuska Orczy": (CLA, HIS),
    "William Makepeace Thackeray": (CLA,),
    "George Eliot": (CLA,),
    "Elizabeth Gaskell": (CLA, ROM),
    "D.H. Lawrence": (CLA, ROM),
    "Evelyn Waugh": (CLA,),
    "Carson McCullers": (CLA,),
    "Willa Cather": (CLA, HIS),
    "Upton Sinclair": (CLA,),
    "Pearl S. Buck": (CLA, HIS),
    "Daniel Keyes": (CLA, SF),
    "Richard Adams": (CLA, FAN),
    "Betty  Smith": (CLA, FIC),
    "Ayn Rand": (CLA, FIC),
    "Milan Kundera": (CLA, FIC),
    "Alan Paton": (CLA,),
    "Robert Penn Warren": (CLA,),
    "Richard Yates": (CLA, FIC),
    "Henry Miller": (CLA,),
    "William S. Burroughs": (CLA,),
    "Thomas Pynchon": (CLA, FIC),
    "Italo Calvino": (CLA, FIC),
    "John Kennedy Toole": (CLA, FIC),
    "William Styron": (CLA, HIS),
    "John  Williams": (CLA, FIC),
    "Salman Rushdie": (FIC, CLA),
    "José Saramago": (FIC, CLA),
    "Herman Wouk": (HIS, CLA),
    "Irving Stone": (HIS, BIO),
    "John Updike": (CLA, FIC),
    "Tom Wolfe": (FIC,),
    "Wallace Stegner": (CLA, HIS),
    "Ernest J. Gaines": (HIS, CLA),
    "Chaim Potok": (CLA, FIC),
    "Leon Uris": (HIS, CLA),
    "James A. Michener": (HIS,),
    "Colleen McCullough": (HIS, ROM),
    "Alexandra Ripley": (HIS, ROM),
    "John Jakes": (HIS,),
    "Michael Shaara": (HIS,),
    "Larry McMurtry": (HIS, CLA),
    "James Clavell": (HIS,),
    "Jean M. Auel": (HIS, FAN),
    "Ken Follett": (HIS,),
    "Jeffrey Archer": (HIS, FIC),
    "Bryce Courtenay": (HIS, FIC),
    "Philippa Gregory": (HIS, ROM),
    "Hilary Mantel": (HIS,),
    "Alison Weir": (NF, HIS, BIO),
    "Tracy Chevalier": (HIS,),
    "Geraldine Brooks": (HIS,),
    "Sarah Dunant": (HIS,),
    "Donna Woolfolk Cross": (HIS,),
    "Anita Diamant": (HIS,),
    "Lisa See": (HIS,),
    "Arthur Golden": (HIS, FIC),
    "Kate Morton": (HIS, MYS),
    "Diane Setterfield": (MYS, FIC),
    "Elizabeth Kostova": (HOR, HIS),
    "Sarah Waters": (HIS, MYS),
    "Anthony Doerr": (HIS, FIC),
    "Kathryn Stockett": (HIS, FIC),
    "Sue Monk Kidd": (HIS, FIC),
    "Christina Baker Kline": (HIS,),
    "Kathleen Grissom": (HIS,),
    "Tatiana de Rosnay": (HIS,),
    "Paula McLain": (HIS,),
    "Melanie Benjamin": (HIS,),
    "Nancy Horan": (HIS,),
    "Martha Hall Kelly": (HIS,),
    "Jamie Ford": (HIS, ROM),
    "Alan Brennert": (HIS,),
    "Jim Fergus": (HIS,),
    "Mary Ann Shaffer": (HIS, FIC),
    "Sara Gruen": (HIS, FIC),
    "Jessie Burton": (HIS,),
    "Hannah Kent": (HIS,),
    "Tara Conklin": (HIS,),
    "Yaa Gyasi": (HIS, FIC),
    "Colson Whitehead": (HIS, FIC),
    "Ursula Hegi": (HIS,),
    "Jenna Blum": (HIS,),
    "Charles Frazier": (HIS,),
    "Adriana Trigiani": (HIS, FIC),
    "David Benioff": (HIS,),
    "Sebastian Faulks": (HIS,),
    "Thomas Keneally": (HIS, CLA),
    "Louis de Bernières": (HIS, ROM),
    "Robert Goolrick": (HIS,),
    "Hillary Jordan": (HIS,),
    "Robert Morgan": (HIS,),
    "Laura Moriarty": (HIS,),
    "Nancy E. Turner": (HIS,),
    "Kate Atkinson": (HIS, FIC),
    "David Ebershoff": (HIS,),
    "Michael Chabon": (FIC, HIS),
    "Julia Alvarez": (HIS,),
    "Amor Towles": (HIS, FIC),
    "Isabel Allende": (FIC, HIS),
    "Katherine Howe": (HIS, FAN),
    "B.A. Shapiro": (HIS, MYS),
    "Eleanor Catton": (HIS, MYS),
    "Lily King": (HIS,),
    "Irvine Welsh": (FIC,),
    # --- drama / plays ---
    "William Shakespeare": (PLAY, CLA, POE),
    "Tennessee Williams": (PLAY, CLA),
    "Arthur Miller": (PLAY, CLA),
    "Sophocles": (PLAY, CLA),
    "Euripides": (PLAY, CLA),
    "Samuel Beckett": (PLAY, CLA),
    "Edward Albee": (PLAY, CLA),
    "Henrik Ibsen": (PLAY, CLA),
    "George Bernard Shaw": (PLAY, CLA),
    "Tom Stoppard": (PLAY,),
    "Edmond Rostand": (PLAY, CLA, POE),
    "Christopher Marlowe": (PLAY, CLA),
    "Kenneth Branagh": (PLAY,),
    "David Cote": (PLAY, NF),
    # --- poetry ---
    "Homer": (POE, CLA),
    "Virgil": (POE, CLA),
    "Ovid": (POE, CLA),
    "Dante Alighieri": (POE, CLA),
    "John Milton": (POE, CLA),
    "Geoffrey Chaucer": (POE, CLA),
    "Unknown": (POE, CLA),
    "Walt Whitman": (POE, CLA),
    "Emily Dickinson": (POE, CLA),
    "Allen Ginsberg": (POE, CLA),
    "Rupi Kaur": (POE,),
    "Kahlil Gibran": (POE, CLA),
    "Maya Angelou": (BIO, POE, CLA),
    "Charles Bukowski": (FIC, POE),
    "Johann Wolfgang von Goethe": (CLA, PLAY, POE),
    # --- graphic novels / comics / manga ---
    "Alan Moore": (GN, SF),
    "Brian K. Vaughan": (GN, SF),
    "Frank Miller": (GN,),
    "Art Spiegelman": (GN, BIO, HIS),
    "Bill Watterson": (GN, KID),
    "Marjane Satrapi": (GN, BIO),
    "Robert Kirkman": (GN, HOR),
    "Raina Telgemeier": (GN, KID),
    "Chuck Dixon": (GN, FAN),
    "Tsugumi Ohba": (GN,),
    "Bryan Lee O'Malley": (GN,),
    "Tite Kubo": (GN,),
    "Natsuki Takaya": (GN,),
    "Bisco Hatori": (GN,),
    "Masashi Kishimoto": (GN,),
    "Bill Willingham": (GN, FAN),
    "Hiromu Arakawa": (GN, FAN),
    "Matsuri Hino": (GN,),
    "Hajime Isayama": (GN,),
    "Scott McCloud": (GN, NF),
    "Yana Toboso": (GN,),
    "Craig Thompson": (GN, BIO),
    "Eiichirō Oda": (GN,),
    "Hiro Mashima": (GN,),
    "Jeff Smith": (GN, FAN),
    "Faye Perozich": (GN, HOR),
    "Peter David": (GN, FAN),
    "Jeph Loeb": (GN,),
    "Garth Ennis": (GN,),
    "Daniel Clowes": (GN,),
    "Mike Mignola": (GN,),
    "Alison Bechdel": (GN, BIO),
    "Gene Luen Yang": (GN, YA),
    "G. Willow Wilson": (GN,),
    "Yoshiki Nakamura": (GN,),
    "Rumiko Takahashi": (GN,),
    "Grant Morrison": (GN,),
    "Noelle Stevenson": (GN, FAN),
    "Bo Hampton": (GN,),
    "Mark Waid": (GN,),
    "Ian Edginton": (GN, CLA),
    "Kazue Kato": (GN,),
    "Vera Brosgol": (GN, YA),
    "Sarah Andersen": (GN,),
    "Allie Brosh": (GN, BIO),
    # --- biography / memoir ---
    "Anne Frank": (BIO, CLA, HIS),
    "Elie Wiesel": (BIO, CLA, HIS),
    "Jeannette Walls": (BIO,),
    "Frank McCourt": (BIO,),
    "David Sedaris": (BIO, NF),
    "Augusten Burroughs": (BIO,),
    "Dave Pelzer": (BIO,),
    "Mitch Albom": (FIC, BIO),
    "Elizabeth Gilbert": (BIO, NF),
    "Cheryl Strayed": (BIO,),
    "Tina Fey": (BIO, NF),
    "Amy Poehler": (BIO, NF),
    "Mindy Kaling": (BIO, NF),
    "Jenny  Lawson": (BIO, NF),
    "Chelsea Handler": (BIO, NF),
    "Ellen DeGeneres": (BIO, NF),
    "Lena Dunham": (BIO, NF),
    "Amy Schumer": (BIO, NF),
    "Steve Martin": (BIO, FIC),
    "Trevor Noah": (BIO,),
    "Rob Lowe": (BIO,),
    "Keith Richards": (BIO,),
    "Anthony Kiedis": (BIO,),
    "Patti Smith": (BIO,),
    "Andre Agassi": (BIO,),
    "Walter Isaacson": (BIO, NF),
    "Ashlee Vance": (BIO, NF),
    "Ron Chernow": (BIO, NF),
    "David McCullough": (BIO, NF),
    "Stacy Schiff": (BIO, NF),
    "Robert K. Massie": (BIO, NF),
    "Sylvia Nasar": (BIO, NF),
    "Doris Kearns Goodwin": (BIO, NF),
    "Laura Hillenbrand": (NF, BIO, HIS),
    "Jon Krakauer": (NF, BIO),
    "Randy Pausch": (BIO, NF),
    "Paul Kalanithi": (BIO, NF),
    "Malala Yousafzai": (BIO, NF),
    "Barack Obama": (BIO, NF),
    "Nelson Mandela": (BIO, NF),
    "Malcolm X": (BIO, CLA),
    "Frederick Douglass": (BIO, CLA),
    "Solomon Northup": (BIO, HIS),
    "Helen Keller": (BIO, CLA),
    "Miep Gies": (BIO, HIS),
    "Corrie ten Boom": (BIO, HIS),
    "Ishmael Beah": (BIO,),
    "Jung Chang": (BIO, HIS),
    "Ayaan Hirsi Ali": (BIO,),
    "Azar Nafisi": (BIO,),
    "Greg Mortenson": (BIO, NF),
    "Frances Mayes": (BIO, NF),
    "Peter Mayle": (BIO, NF),
    "James Herriot": (BIO, NF),
    "John Grogan": (BIO, NF),
    "Vicki Myron": (BIO, NF),
    "Julie Powell": (BIO, NF),
    "Julia Child": (BIO, NF),
    "Anthony Bourdain": (BIO, NF),
    "Susanna Kaysen": (BIO,),
    "Elizabeth Wurtzel": (BIO,),
    "Kay Redfield Jamison": (BIO, NF),
    "Susannah Cahalan": (BIO, NF),
    "Joan Didion": (BIO, NF),
    "Mary Karr": (BIO,),
    "James McBride": (BIO,),
    "J.D. Vance": (BIO, NF),
    "Alexandra Fuller": (BIO,),
    "Piper Kerman": (BIO,),
    "Jaycee Dugard": (BIO,),
    "Flora Rheta Schreiber": (BIO, NF),
    "Todd Burpo": (BIO, NF),
    "Ron Hall": (BIO,),
    "James Frey": (BIO,),
    "Chris Kyle": (BIO, NF),
    "Marcus Luttrell": (BIO, NF),
    "John Elder Robison": (BIO,),
    "Jean-Dominique Bauby": (BIO,),
    "Richard Feynman": (BIO, NF),
    "Vincent van Gogh": (BIO, NF),
    "Jen Lancaster": (BIO,),
    "Caitlin Moran": (BIO, NF),
    "Gregory David Roberts": (FIC, BIO),
    "Christopher McDougall": (NF,),
    "Piers Paul Read": (NF, HIS),
    "Alfred Lansing": (NF, HIS),
    "Daniel James Brown": (NF, HIS),
    "Hunter S. Thompson": (FIC, CLA),
    "Stephen Colbert": (NF,),
    "Jon Stewart": (NF,),
    # --- non-fiction (science, history, society) ---
    "Bill Bryson": (NF,),
    "Malcolm Gladwell": (NF,),
    "Steven D. Levitt": (NF,),
    "Jared Diamond": (NF, HIS),
    "Stephen Hawking": (NF,),
    "Richard Dawkins": (NF,),
    "Michael Pollan": (NF,),
    "Erik Larson": (NF, HIS),
    "Rebecca Skloot": (NF, BIO),
    "Eric Schlosser": (NF,),
    "Barbara Ehrenreich": (NF,),
    "Howard Zinn": (NF,),
    "Daniel Kahneman": (NF,),
    "Mary Roach": (NF,),
    "Oliver Sacks": (NF,),
    "Charles C. Mann": (NF,),
    "Siddhartha Mukherjee": (NF,),
    "Atul Gawande": (NF,),
    "Yuval Noah Harari": (NF,),
    "Ta-Nehisi Coates": (NF, BIO),
    "Sebastian Junger": (NF,),
    "Nathaniel Philbrick": (NF,),
    "Simon Winchester": (NF,),
    "Mark Kurlansky": (NF,),
    "Mark Bowden": (NF,),
    "Stephen E. Ambrose": (NF,),
    "William L. Shirer": (NF,),
    "Bill O'Reilly": (NF,),
    "John Hersey": (NF, CLA),
    "Dave Cullen": (NF,),
    "Richard   Preston": (NF,),
    "John Berendt": (NF,),
    "David Grann": (NF,),
    "Katherine Boo": (NF,),
    "Tracy Kidder": (NF, BIO),
    "Anne Fadiman": (NF,),
    "John Howard Griffin": (NF, BIO),
    "Jon Ronson": (NF,),
    "Joshua Foer": (NF,),
    "A.J. Jacobs": (NF,),
    "Randall Munroe": (NF,),
    "Chuck Klosterman": (NF,),
    "Roxane Gay": (NF,),
    "Reza Aslan": (NF,),
    "Christopher Hitchens": (NF,),
    "Charles Darwin": (NF, CLA),
    "Karl Marx": (NF, CLA),
    "Plato": (NF, CLA),
    "Friedrich Nietzsche": (NF, CLA),
    "Marcus Aurelius": (NF, CLA),
    "Niccolò Machiavelli": (NF, CLA),
    "Sun Tzu": (NF, CLA),
    "Lao Tzu": (NF, CLA, POE),
    "Henry David Thoreau": (NF, CLA),
    "Jostein Gaarder": (FIC, NF),
    "Robert M. Pirsig": (NF, FIC),
    "Viktor E. Frankl": (NF, BIO),
    "Thomas L. Friedman": (NF,),
    "Michael   Lewis": (NF,),
    "Lynne Truss": (NF,),
    "William Strunk Jr.": (NF,),
    "E.H. Gombrich": (NF,),
    "John Berger": (NF,),
    "Phaidon Press": (NF,),
    "Wassily Kandinsky": (NF,),
    "M.C. Escher": (NF,),
    "Banksy": (NF,),
    "Victoria Finlay": (NF,),
    "Betty Edwards": (NF,),
    "Mark Bittman": (NF,),
    "Mark Cotta Vaz": (NF,),
    "Kate Egan": (NF,),
    "Emily Seife": (NF,),
    "Catherine Hardwicke": (NF,),
    "Brian Sibley": (NF,),
    "John D. Rateliff": (NF,),
    "Anonymous": (CLA, NF),
    "Susan Cain": (NF, SH),
    "Aziz Ansari": (NF,),
    # --- self-help / business / spirituality ---
    "Stephen R. Covey": (SH, NF),
    "Dale Carnegie": (SH, NF),
    "Rhonda Byrne": (SH,),
    "Spencer Johnson": (SH,),
    "Charles Duhigg": (SH, NF),
    "Robert T. Kiyosaki": (SH, NF),
    "Sheryl Sandberg": (SH, NF),
    "Marie Kondō": (SH, NF),
    "Gretchen Rubin": (SH, NF),
    "Austin Kleon": (SH, NF),
    "Napoleon Hill": (SH,),
    "Eric Ries": (SH, NF),
    "Jason Fried": (SH, NF),
    "Eckhart Tolle": (SH,),
    "Gary Chapman": (SH,),
    "John Gray": (SH,),
    "Greg Behrendt": (SH,),
    "David    Allen": (SH, NF),
    "Brené Brown": (SH, NF),
    "Robert B. Cialdini": (SH, NF),
    "Louise L. Hay": (SH,),
    "M. Scott Peck": (SH, NF),
    "Robin S. Sharma": (SH,),
    "Norman Vincent Peale": (SH,),
    "George S. Clason": (SH,),
    "Deepak Chopra": (SH,),
    "Mark Manson": (SH, NF),
    "David J. Schwartz": (SH,),
    "Patrick Lencioni": (SH, NF),
    "Kenneth H. Blanchard": (SH, NF),
    "Timothy Ferriss": (SH, NF),
    "Richard Carlson": (SH,),
    "Julia Cameron": (SH, NF),
    "Dalai Lama XIV": (SH, NF),
    "Daniel Goleman": (SH, NF),
    "James C. Collins": (SH, NF),
    "Peter Thiel": (SH, NF),
    "Sophia Amoruso": (SH, BIO),
    "Chip Heath": (SH, NF),
    "Dan Ariely": (NF, SH),
    "Nassim Nicholas Taleb": (NF, SH),
    "Thomas J. Stanley": (SH, NF),
    "David Bayles": (SH, NF),
    "Rick Warren": (SH, NF),
    "Bruce H. Wilkinson": (SH,),
    "Stephen Kendrick": (SH,),
    "John Eldredge": (SH,),
    "Francis Chan": (SH, NF),
    "Oswald Chambers": (SH,),
    "Donald Miller": (BIO, SH),
    "Benjamin Hoff": (SH, NF),
    "Richard Bach": (FIC, SH),
    "Paulo Coelho": (FIC, FAN, SH),
    "James Redfield": (FIC, SH),
    "William Paul Young": (FIC, SH),
    "Tim LaHaye": (FIC, SF),
    "Frank E. Peretti": (FIC, FAN),
    "Jan Karon": (FIC,),
    # --- literary / contemporary fiction with a clear secondary shelf ---
    "Jodi Picoult": (FIC,),
    "Khaled Hosseini": (FIC, HIS),
    "Haruki Murakami": (FIC, FAN),
    "Cormac McCarthy": (FIC, SF),
    "Chuck Palahniuk": (FIC,),
    "Liane Moriarty": (FIC, MYS),
    "Barbara Kingsolver": (FIC, HIS),
    "John Irving": (FIC,),
    "Jhumpa Lahiri": (FIC,),
    "Alice Sebold": (FIC, MYS),
    "Audrey Niffenegger": (FIC, ROM, SF),
    "Carlos Ruiz Zafón": (FIC, MYS, HIS),
    "Donna Tartt": (FIC, MYS),
    "David Mitchell": (FIC, SF),
    "Jonathan Franzen": (FIC,),
    "Ian McEwan": (FIC, HIS),
    "Amy Tan": (FIC,),
    "Jeffrey Eugenides": (FIC,),
    "Wally Lamb": (FIC,),
    "Ann Patchett": (FIC,),
    "Nick Hornby": (FIC,),
    "Chimamanda Ngozi Adichie": (FIC, HIS),
    "Elizabeth Strout": (FIC,),
    "Tom Robbins": (FIC, FAN),
    "Fredrik Backman": (FIC,),
    "Lisa Genova": (FIC,),
    "Junot Díaz": (FIC,),
    "Zadie Smith": (FIC,),
    "Anne Tyler": (FIC,),
    "Karen Joy Fowler": (FIC,),
    "Jane Hamilton": (FIC,),
    "Alice Hoffman": (FIC, FAN, HIS),
    "Dave Eggers": (FIC, BIO),
    "Mark Haddon": (FIC, MYS),
    "Emma Donoghue": (FIC,),
    "Kim Edwards": (FIC,),
    "Rebecca Wells": (FIC,),
    "Garth Stein": (FIC,),
    "Abraham Verghese": (FIC,),
    "Janet Fitch": (FIC,),
    "M.L. Stedman": (FIC, HIS),
    "Maria Semple": (FIC,),
    "Billie Letts": (FIC,),
    "Laura Esquivel": (FIC, ROM),
    "Arundhati Roy": (FIC,),
    "Pat Conroy": (FIC,),
    "Vanessa Diffenbaugh": (FIC,),
    "Chris Bohjalian": (FIC,),
    "David Guterson": (FIC, HIS),
    "Jennifer Egan": (FIC,),
    "Bernhard Schlink": (FIC, HIS),
    "Chris Cleave": (FIC,),
    "Jess Walter": (FIC,),
    "Aravind Adiga": (FIC,),
    "Matthew Quick": (FIC,),
    "Robin Sloan": (FIC,),
    "Celeste Ng": (FIC,),
    "Annie Proulx": (FIC,),
    "Jacquelyn Mitchard": (FIC,),
    "Muriel Barbery": (FIC,),
    "Lionel Shriver": (FIC,),
    "Rohinton Mistry": (FIC, HIS),
    "Jonathan Tropper": (FIC,),
    "Nicole Krauss": (FIC,),
    "Helen Simonson": (FIC,),
    "Michael Cunningham": (FIC,),
    "Julian Barnes": (FIC,),
    "Rachel Joyce": (FIC,),
    "Jonas Jonasson": (FIC,),
    "Richard Russo": (FIC,),
    "Carol Rifka Brunt": (FIC,),
    "Joanne Harris": (FIC, ROM),
    "Chad Harbach": (FIC,),
    "Sandra Cisneros": (FIC, CLA),
    "Cynthia D'Aprix Sweeney": (FIC,),
    "Joyce Carol Oates": (FIC,),
    "Emma Cline": (FIC, HIS),
    "Meg Wolitzer": (FIC,),
    "Herman Koch": (FIC, THR),
    "Anita Shreve": (FIC,),
    "Colum McCann": (FIC,),
    "Aimee Bender": (FIC, FAN),
    "Jan-Philipp Sendker": (FIC, ROM),
    "Katherine Dunn": (FIC,),
    "Dai Sijie": (FIC,),
    "George Saunders": (FIC,),
    "Karen Russell": (FIC,),
    "Sue Miller": (FIC,),
    "Alex Garland": (FIC, THR),
    "Ruth Ozeki": (FIC,),
    "Patrick deWitt": (FIC,),
    "Ann-Marie MacDonald": (FIC,),
    "J.M. Coetzee": (FIC,),
    "Elizabeth Berg": (FIC,),
    "Marilynne Robinson": (FIC,),
    "Kent Haruf": (FIC,),
    "Lauren Groff": (FIC,),
    "Hanya Yanagihara": (FIC,),
    "Téa Obreht": (FIC, FAN),
    "Elena Ferrante": (FIC,),
    "W. Bruce Cameron": (FIC,),
    "Daniel Quinn": (FIC,),
    "Kerry Lonsdale": (FIC,),
    "Christina Schwarz": (FIC,),
    "Anna Quindlen": (FIC,),
    "Louise Erdrich": (FIC,),
    "David Wroblewski": (FIC,),
    "Don DeLillo": (FIC,),
    "David Foster Wallace": (FIC,),
    "Bret Easton Ellis": (FIC, HOR),
    "Andre Dubus III": (FIC,),
    "Colm Tóibín": (FIC, HIS),
    "A.S. Byatt": (FIC, ROM),
    "Beth Hoffman": (FIC,),
    "Adam Johnson": (FIC,),
    "Shilpi Somaya Gowda": (FIC,),
    "Leif Enger": (FIC,),
    "Winston Groom": (FIC,),
    "Kate Jacobs": (FIC,),
    "Jane Smiley": (FIC,),
    "Tim O'Brien": (FIC, CLA),
    "William Goldman": (FAN, CLA, ROM),
    "Alex Flinn": (FAN, YA, ROM),
    "O. Henry": (CLA, FIC),
    "Daniel Handler": (YA, ROM),
    "Alex Haley": (HIS, CLA),
}

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


def assign_genres(books: pd.DataFrame) -> tuple[list[list[str]], list[str]]:
    """Return 1-3 shelves per book (primary first) and how the book was labelled.

    The label is ``author`` (author map only), ``author+keyword`` (author map, with a
    format keyword adding or promoting a shelf), ``keyword`` (title rules only) or
    ``fallback`` (neither: ``fiction``).
    """
    shelves: list[list[str]] = []
    sources: list[str] = []
    for authors, title in zip(books["authors"], books["title"], strict=True):
        from_author = list(AUTHOR_GENRES.get(first_author(authors), ()))
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

    shelves, sources = assign_genres(books)
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
