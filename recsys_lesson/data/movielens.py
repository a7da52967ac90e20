"""MovieLens 100K, 1M and latest-small in one schema (used from chapter 1 onwards).

:func:`load_movielens` fetches and verifies a release (:func:`~recsys_lesson.data.download.fetch`)
and returns a :class:`MovieLens` with three DataFrames whose columns and dtypes are the same for
every release:

``ratings`` (one row per rating)
    ``user_id`` int64, ``item_id`` int64 (the release's raw ids), ``rating`` float32 (1-5 in
    whole stars for 100K and 1M; 0.5-5 in half stars for latest-small), ``timestamp`` int64
    (Unix seconds, UTC). Rows are sorted by (``timestamp``, ``user_id``, ``item_id``): oldest
    first, which is the order a temporal split needs, and deterministic because a user rates an
    item at most once. The index is 0..n-1.
``items`` (one row per movie of the release, rated or not, sorted by ``item_id``)
    ``item_id`` int64, ``title`` str without the year (``"Seven (Se7en)"``), ``year`` Int64
    (pandas nullable; <NA> when the title carries no year; for a range such as "(2006-2007)" the
    first year), ``genres`` (a Python list of genre names, possibly empty). Genre names are the
    release's, with "Children's" written "Children" so that all releases share one vocabulary;
    "unknown" (100K) and "(no genres listed)" (latest-small) become an empty list. A video
    marker after the year, as in "... (1995) (V)", is kept in the title: "... (V)".
    ML-100K lists some movies twice under two ids (for example "Chasing Amy (1997)", ids 246 and
    268); they are left as they are, as the release and the literature have them.
``users`` (100K and 1M only, else None; sorted by ``user_id``)
    ``user_id`` int64, ``age`` int64, ``gender`` "M" or "F", ``occupation`` str, ``zip`` str.
    ML-100K gives the age in years. ML-1M gives an age-group code instead (1: under 18,
    18: 18-24, 25: 25-34, 35: 35-44, 45: 45-49, 50: 50-55, 56: 56+; see :data:`ML1M_AGE_GROUPS`),
    and occupation codes, which are mapped to the names in its README (:data:`ML1M_OCCUPATIONS`).

Sizes: ML-100K 100,000 ratings, 943 users, 1,682 items; ML-1M 1,000,209 ratings, 6,040 users,
3,883 items (3,706 of them rated); latest-small 100,836 ratings, 610 users, 9,742 items.
File formats handled: ``u.item`` and the ML-1M ``.dat`` files are latin-1; the ``.dat`` files
use ``::`` as separator; latest-small's CSVs are UTF-8 with CRLF line endings and quoted titles.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from .download import PathLike, fetch

ML1M_AGE_GROUPS: Dict[int, str] = {
    1: "Under 18",
    18: "18-24",
    25: "25-34",
    35: "35-44",
    45: "45-49",
    50: "50-55",
    56: "56+",
}
"""ML-1M's age-group codes (the ``age`` column of its users) and the ranges they stand for."""

ML1M_OCCUPATIONS: Dict[int, str] = {
    0: "other",
    1: "academic/educator",
    2: "artist",
    3: "clerical/admin",
    4: "college/grad student",
    5: "customer service",
    6: "doctor/health care",
    7: "executive/managerial",
    8: "farmer",
    9: "homemaker",
    10: "K-12 student",
    11: "lawyer",
    12: "programmer",
    13: "retired",
    14: "sales/marketing",
    15: "scientist",
    16: "self-employed",
    17: "technician/engineer",
    18: "tradesman/craftsman",
    19: "unemployed",
    20: "writer",
}
"""ML-1M's occupation codes and their names, from its README (0 is "other" or not specified)."""

# The genres the ML-1M and latest-small READMEs list (ML-100K's are read from u.genre).
_README_GENRES = [
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
]
_NO_GENRE = {"unknown", "(no genres listed)", ""}
_RATING_DTYPES = {"user_id": np.int64, "item_id": np.int64, "rating": np.float32,
                  "timestamp": np.int64}
# "Title (1995)", "Title (2006-2007)" or "Title (1995) (V)": the last 4-digit year in
# parentheses, optionally followed by parenthesised markers without digits.
_TITLE_YEAR = (
    r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*(?:\d{4})?)?\)"
    r"(?P<suffix>(?:\s*\([^()\d]*\))*)\s*$"
)


@dataclass
class MovieLens:
    """One MovieLens release in the package's schema (see the module docstring)."""

    name: str
    ratings: pd.DataFrame
    items: pd.DataFrame
    users: Optional[pd.DataFrame]
    genre_names: List[str]

    def genre_matrix(self) -> np.ndarray:
        """Multi-hot genres, float32 0/1 (num_items, num_genres); columns follow ``genre_names``."""
        return genre_matrix(self.items, self.genre_names)

    def __repr__(self) -> str:
        users = "no user table" if self.users is None else f"{len(self.users)} users"
        return (
            f"MovieLens({self.name!r}: {len(self.ratings)} ratings, {len(self.items)} items, "
            f"{users}, {len(self.genre_names)} genres)"
        )


def genre_matrix(items: pd.DataFrame, genre_names: Optional[Sequence[str]] = None) -> np.ndarray:
    """Multi-hot genres: a (len(items), len(genre_names)) float32 array of 0/1.

    Entry (i, g) is 1 when row i of ``items`` lists genre ``genre_names[g]``. Without
    ``genre_names`` the vocabulary is the sorted set of genres found in ``items``.
    """
    if "genres" not in items.columns:
        raise ValueError(f"items needs a 'genres' column of lists; it has {list(items.columns)}")
    lists = items["genres"].tolist()
    flat = [genre for genres in lists for genre in genres]
    if genre_names is None:
        genre_names = sorted(set(flat))
    vocabulary = pd.Index(list(genre_names))
    if not vocabulary.is_unique:
        raise ValueError(f"genre_names has duplicates: {list(genre_names)}")
    lengths = np.fromiter((len(genres) for genres in lists), dtype=np.int64, count=len(lists))
    rows = np.repeat(np.arange(len(lists)), lengths)  # (num_pairs,)
    cols = vocabulary.get_indexer(flat) if flat else np.zeros(0, dtype=np.int64)
    if (cols < 0).any():
        unknown = sorted({g for g, c in zip(flat, cols) if c < 0})
        raise ValueError(f"items have genres not in genre_names: {unknown}")
    matrix = np.zeros((len(lists), len(vocabulary)), dtype=np.float32)  # (num_items, num_genres)
    matrix[rows, cols] = 1.0
    return matrix


def _normalise_genre(name: str) -> str:
    return "Children" if name == "Children's" else name


def _genre_lists(split: pd.Series) -> pd.Series:
    """Lists of raw genre names -> lists of normalised names, without the no-genre markers."""
    return split.map(lambda names: [_normalise_genre(g) for g in names if g not in _NO_GENRE])


def _vocabulary(documented: Sequence[str], genres: pd.Series) -> List[str]:
    names = {_normalise_genre(g) for g in documented if g not in _NO_GENRE}
    names.update(g for lst in genres for g in lst)
    return sorted(names)


def split_title(raw: pd.Series) -> pd.DataFrame:
    """Split titles such as "Seven (Se7en) (1995)" into ``title`` "Seven (Se7en)" and ``year`` 1995.

    Titles without a year keep their (stripped) text and get ``year`` <NA> (dtype Int64).
    """
    raw = raw.astype(str).str.strip()
    parts = raw.str.extract(_TITLE_YEAR)
    matched = parts["year"].notna()
    title = (parts["title"] + parts["suffix"].fillna("")).where(matched, raw)
    year = pd.to_numeric(parts["year"]).astype("Int64")
    return pd.DataFrame({"title": title.to_numpy(dtype=object), "year": year}, index=raw.index)


def _finish_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    ratings = ratings.astype(_RATING_DTYPES)
    return ratings.sort_values(["timestamp", "user_id", "item_id"], kind="stable",
                               ignore_index=True)


def _finish_items(item_id: pd.Series, raw_title: pd.Series, genres: pd.Series) -> pd.DataFrame:
    parts = split_title(raw_title)
    items = pd.DataFrame({
        "item_id": item_id.astype(np.int64).to_numpy(),
        "title": parts["title"].to_numpy(),
        "year": parts["year"].to_numpy(),
        "genres": genres.to_numpy(),
    })
    items["year"] = items["year"].astype("Int64")
    items["title"] = items["title"].astype(str)
    return items.sort_values("item_id", kind="stable", ignore_index=True)


def _finish_users(users: pd.DataFrame) -> pd.DataFrame:
    users = users[["user_id", "age", "gender", "occupation", "zip"]]
    users = users.astype({"user_id": np.int64, "age": np.int64, "gender": str,
                          "occupation": str, "zip": str})
    return users.sort_values("user_id", kind="stable", ignore_index=True)


def _read_table(path: Path, sep: str, names: Sequence[str], encoding: str, dtype=None,
                ) -> pd.DataFrame:
    """Read a header-less separated file with no quoting and no NA guessing."""
    if len(sep) > 1:  # '::' in ML-1M: turn it into one character so the fast C parser can read it
        text = path.read_text(encoding=encoding).replace(sep, "\t")
        source, sep = io.StringIO(text), "\t"
    else:
        source = path
    return pd.read_csv(source, sep=sep, header=None, names=list(names), encoding=encoding,
                       dtype=dtype, quoting=csv.QUOTE_NONE, keep_default_na=False,
                       na_filter=False)


def _load_100k(folder: Path) -> MovieLens:
    ratings = _read_table(folder / "u.data", "\t", list(_RATING_DTYPES), "ascii")
    genre_table = _read_table(folder / "u.genre", "|", ["genre", "index"], "latin-1",
                              dtype={"genre": str, "index": np.int64})
    raw_genres = genre_table.sort_values("index")["genre"].tolist()  # "unknown", "Action", ...
    columns = ["item_id", "title", "release_date", "video_release_date", "imdb_url"]
    items = _read_table(folder / "u.item", "|", columns + raw_genres, "latin-1",
                        dtype={"item_id": np.int64, "title": str})
    flags = items[raw_genres].to_numpy(dtype=np.int64)  # (num_items, 19)
    names = np.array(raw_genres, dtype=object)
    genres = _genre_lists(pd.Series([list(names[row.astype(bool)]) for row in flags]))
    users = _read_table(folder / "u.user", "|", ["user_id", "age", "gender", "occupation", "zip"],
                        "latin-1", dtype={"zip": str})
    return MovieLens(
        name="ml-100k",
        ratings=_finish_ratings(ratings),
        items=_finish_items(items["item_id"], items["title"], genres),
        users=_finish_users(users),
        genre_names=_vocabulary(raw_genres, genres),
    )


def _load_1m(folder: Path) -> MovieLens:
    ratings = _read_table(folder / "ratings.dat", "::", list(_RATING_DTYPES), "latin-1")
    lines = pd.Series((folder / "movies.dat").read_text(encoding="latin-1").splitlines())
    lines = lines[lines.str.strip() != ""]
    # "MovieID::Title::Genres": the title may hold ':' but the genres never do.
    movies = lines.str.extract(r"^(?P<item_id>\d+)::(?P<title>.*)::(?P<genres>[^:]*)$")
    bad = movies["item_id"].isna()
    if bad.any():
        raise ValueError(
            f"{folder / 'movies.dat'}: line {int(lines.index[bad][0]) + 1} is not "
            f"'MovieID::Title::Genres': {lines[bad].iloc[0]!r}"
        )
    genres = _genre_lists(movies["genres"].astype(str).str.split("|"))
    users = _read_table(folder / "users.dat", "::",
                        ["user_id", "gender", "age", "occupation", "zip"], "latin-1",
                        dtype={"zip": str})
    codes = users["occupation"].astype(np.int64)
    unknown = sorted(set(codes) - set(ML1M_OCCUPATIONS))
    if unknown:
        raise ValueError(f"{folder / 'users.dat'} has unknown occupation codes {unknown}")
    users["occupation"] = codes.map(ML1M_OCCUPATIONS)
    return MovieLens(
        name="ml-1m",
        ratings=_finish_ratings(ratings),
        items=_finish_items(movies["item_id"].astype(np.int64), movies["title"], genres),
        users=_finish_users(users),
        genre_names=_vocabulary(_README_GENRES, genres),
    )


def _load_latest_small(folder: Path) -> MovieLens:
    ratings = pd.read_csv(folder / "ratings.csv", encoding="utf-8").rename(
        columns={"userId": "user_id", "movieId": "item_id"}
    )
    movies = pd.read_csv(folder / "movies.csv", encoding="utf-8", keep_default_na=False,
                         na_filter=False, dtype={"movieId": np.int64, "title": str, "genres": str})
    genres = _genre_lists(movies["genres"].str.split("|"))
    return MovieLens(
        name="ml-latest-small",
        ratings=_finish_ratings(ratings[list(_RATING_DTYPES)]),
        items=_finish_items(movies["movieId"], movies["title"], genres),
        users=None,
        genre_names=_vocabulary(_README_GENRES, genres),
    )


_LOADERS: Dict[str, Callable[[Path], MovieLens]] = {
    "ml-100k": _load_100k,
    "ml-1m": _load_1m,
    "ml-latest-small": _load_latest_small,
}


def load_movielens(
    name: str = "ml-100k", data_home: Optional[PathLike] = None, download: bool = True
) -> MovieLens:
    """Load a MovieLens release ("ml-100k", "ml-1m" or "ml-latest-small") in the shared schema.

    The files are found in (or downloaded to) ``<data folder>/<name>/`` and verified first; see
    :func:`recsys_lesson.data.download.fetch` for the data folder and the errors it raises.
    """
    if name not in _LOADERS:
        raise ValueError(f"unknown MovieLens release {name!r}; choose one of {sorted(_LOADERS)}")
    folder = fetch(name, data_home=data_home, download=download)
    return _LOADERS[name](folder)
