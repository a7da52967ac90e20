"""The registry of the book's public data sets: where each comes from and what its files hash to.

Every chapter loads its data through :func:`recsys_lesson.data.download.fetch`, which looks the
data set up here (STYLE habit 8). An entry names the official source (one archive, or individual
files for UCI Adult), the archive's SHA-256 and size, the files the loaders read, and the SHA-256
of each of those files, so that a copy found on disk is checked before it is used.

Where the hash of an extracted file is not known to us (ML-1M: GroupLens publishes only the
archive's hash, and no copy of the archive was available when the registry was written), the
entry records ``None``. For such a data set, :func:`~recsys_lesson.data.download.fetch`
verifies the archive's SHA-256 at the first download, extracts it, and writes a manifest
``SHA256SUMS`` (the hashes of the extracted files, computed from the verified archive, in the
format of the ``sha256sum`` tool) inside the data set's folder. Later loads check each file
against the registry's hash if it has one, else against that manifest. A file with neither
(for example ML-1M files extracted by hand, with no manifest) is refused with
:class:`~recsys_lesson.data.download.UnverifiedFileError`, which tells the user to delete the
folder and let the package download it, or to pass a data folder that holds a verified copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

MANIFEST_NAME = "SHA256SUMS"
"""Name of the manifest written into a data set's folder when some file hashes are unknown."""


@dataclass(frozen=True)
class DataSet:
    """One public data set: its source, terms, and the files the loaders read.

    Attributes:
        name: the registry key and the name of the data set's folder inside the data home.
        description: one line saying what the data set is.
        homepage: where a reader learns about it.
        licence: the terms of use, in short; read the release's own README before use.
        url: the official archive (a zip), or None for data sets served as individual files.
        sha256: SHA-256 of the archive as served (hex), or None when there is no archive.
        size: the archive's size in bytes, or None.
        files: relative path inside the data set folder -> SHA-256 of that file (hex), or None
            where no published hash is known (then the download manifest is used, see above).
        members: relative path -> name of the archive member that holds it.
        file_urls: relative path -> URL, for data sets served as individual files (Adult).
    """

    name: str
    description: str
    homepage: str
    licence: str
    url: Optional[str] = None
    sha256: Optional[str] = None
    size: Optional[int] = None
    files: Dict[str, Optional[str]] = field(default_factory=dict)
    members: Dict[str, str] = field(default_factory=dict)
    file_urls: Dict[str, str] = field(default_factory=dict)


_GROUPLENS_TERMS = (
    "GroupLens research licence: research use only, acknowledge the data set in publications "
    "(Harper and Konstan, 2015, doi:10.1145/2827872), no endorsement implied, no commercial "
    "use without permission, {redistribution}. See the README inside the archive."
)

_MOVIELENS = "https://files.grouplens.org/datasets/movielens/"
_ADULT = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/"

DATASETS: Dict[str, DataSet] = {
    "ml-100k": DataSet(
        name="ml-100k",
        description="MovieLens 100K: 100,000 ratings (1-5) by 943 users on 1,682 movies, "
        "with user demographics and movie genres (1997-1998).",
        homepage="https://grouplens.org/datasets/movielens/100k/",
        licence=_GROUPLENS_TERMS.format(redistribution="no redistribution without permission"),
        url=_MOVIELENS + "ml-100k.zip",
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        size=4_924_029,
        files={
            "README": "d5f41f88d1a96b8faefed3c2f51fce1fca3be1ba6ab0d06e346898ffae920de9",
            "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
            "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
            "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
        },
        members={
            "README": "ml-100k/README",
            "u.data": "ml-100k/u.data",
            "u.item": "ml-100k/u.item",
            "u.user": "ml-100k/u.user",
            "u.genre": "ml-100k/u.genre",
        },
    ),
    "ml-1m": DataSet(
        name="ml-1m",
        description="MovieLens 1M: 1,000,209 ratings (1-5) by 6,040 users on 3,706 of 3,883 "
        "movies, with user demographics and movie genres (2000-2003).",
        homepage="https://grouplens.org/datasets/movielens/1m/",
        licence=_GROUPLENS_TERMS.format(redistribution="no redistribution without permission"),
        url=_MOVIELENS + "ml-1m.zip",
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        size=5_917_549,
        # The extracted files' hashes are not published; the download writes a manifest.
        files={"README": None, "ratings.dat": None, "movies.dat": None, "users.dat": None},
        members={
            "README": "ml-1m/README",
            "ratings.dat": "ml-1m/ratings.dat",
            "movies.dat": "ml-1m/movies.dat",
            "users.dat": "ml-1m/users.dat",
        },
    ),
    "ml-latest-small": DataSet(
        name="ml-latest-small",
        description="MovieLens latest-small (September 2018): 100,836 ratings (0.5-5 in half "
        "stars) by 610 users on 9,742 movies, with genres; no user demographics.",
        homepage="https://grouplens.org/datasets/movielens/latest/",
        licence=_GROUPLENS_TERMS.format(
            redistribution="redistribution allowed under the same conditions"
        ),
        url=_MOVIELENS + "ml-latest-small.zip",
        sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        size=978_202,
        files={
            "README.txt": "63d22ac138e80fae37021797ed8e1b9424b5239dc576a137422adf783ae3f404",
            "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
            "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
        },
        members={
            "README.txt": "ml-latest-small/README.txt",
            "ratings.csv": "ml-latest-small/ratings.csv",
            "movies.csv": "ml-latest-small/movies.csv",
        },
    ),
    "adult": DataSet(
        name="adult",
        description="UCI Adult (Census Income, 1994): predict whether income exceeds $50K a "
        "year from 14 census attributes; 32,561 training and 16,281 test rows.",
        homepage="https://archive.ics.uci.edu/dataset/2/adult",
        licence="Creative Commons Attribution 4.0 International (CC BY 4.0); cite Becker and "
        "Kohavi (1996), Adult, UCI Machine Learning Repository, doi:10.24432/C5XW20.",
        files={
            "adult.data": "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
            "adult.test": "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
            "adult.names": "c248284c0b5de30c9e1958d6cdd168a34a654758b620e68f46aefa83fc0a576a",
        },
        file_urls={
            "adult.data": _ADULT + "adult.data",
            "adult.test": _ADULT + "adult.test",
            "adult.names": _ADULT + "adult.names",
        },
    ),
}
"""All registered data sets, by name."""


def get_dataset(name: str) -> DataSet:
    """Return the registry entry called ``name``; ValueError listing the known names if unknown."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(DATASETS))
        raise ValueError(f"unknown data set {name!r}; known data sets: {known}") from None
