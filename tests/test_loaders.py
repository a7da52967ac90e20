"""Tests of the MovieLens and Adult loaders and of the id maps (offline; no network)."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
import shutil
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_lesson.data import download
from recsys_lesson.data.adult import ADULT_COLUMNS, ADULT_NUMERIC, load_adult
from recsys_lesson.data.download import ENV_VAR, ChecksumError, UnverifiedFileError
from recsys_lesson.data.ids import IdMap, encode_ids
from recsys_lesson.data.movielens import (
    ML1M_OCCUPATIONS,
    genre_matrix,
    load_movielens,
    split_title,
)
from recsys_lesson.data.registry import DATASETS

SHARED = os.environ.get(ENV_VAR)
RATING_DTYPES = {"user_id": "int64", "item_id": "int64", "rating": "float32",
                 "timestamp": "int64"}
ITEM_COLUMNS = ["item_id", "title", "year", "genres"]
USER_COLUMNS = ["user_id", "age", "gender", "occupation", "zip"]


def shared_folder(name: str) -> Path:
    if not SHARED or not (Path(SHARED) / name).is_dir():
        pytest.skip(f"set {ENV_VAR} to the offline data folder holding {name}/")
    return Path(SHARED)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    def no_network(url, destination, expected_size=None):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(download, "_download", no_network)


@pytest.fixture(scope="module")
def ml100k():
    return load_movielens("ml-100k", data_home=shared_folder("ml-100k"), download=False)


@pytest.fixture(scope="module")
def latest():
    return load_movielens("ml-latest-small", data_home=shared_folder("ml-latest-small"),
                          download=False)


def check_schema(ml, with_users: bool) -> None:
    assert list(ml.ratings.columns) == list(RATING_DTYPES)
    assert {c: str(t) for c, t in ml.ratings.dtypes.items()} == RATING_DTYPES
    assert list(ml.ratings.index) == list(range(len(ml.ratings)))
    order = ml.ratings[["timestamp", "user_id", "item_id"]].to_numpy()
    assert (np.lexsort(order[:, ::-1].T) == np.arange(len(order))).all()  # sorted, documented
    assert not ml.ratings.duplicated(["user_id", "item_id"]).any()
    assert list(ml.items.columns) == ITEM_COLUMNS
    assert ml.items["item_id"].dtype == np.int64 and ml.items["item_id"].is_monotonic_increasing
    assert ml.items["year"].dtype == "Int64"
    assert pd.api.types.is_string_dtype(ml.items["title"])
    assert all(isinstance(g, list) for g in ml.items["genres"])
    assert ml.genre_names == sorted(ml.genre_names) and "Children" in ml.genre_names
    assert not {"Children's", "unknown", "(no genres listed)"} & set(ml.genre_names)
    assert set(ml.ratings["item_id"]) <= set(ml.items["item_id"])
    if with_users:
        assert list(ml.users.columns) == USER_COLUMNS
        assert ml.users["user_id"].dtype == np.int64 and ml.users["age"].dtype == np.int64
        assert set(ml.users["gender"]) <= {"M", "F"}
        assert all(isinstance(z, str) for z in ml.users["zip"])
        assert all(isinstance(o, str) for o in ml.users["occupation"])
        assert set(ml.ratings["user_id"]) <= set(ml.users["user_id"])
    else:
        assert ml.users is None


def genre_matrix_reference(items, genre_names):
    out = np.zeros((len(items), len(genre_names)), dtype=np.float32)
    for i, genres in enumerate(items["genres"]):
        for g in genres:
            out[i, genre_names.index(g)] = 1.0
    return out


# ---------------------------------------------------------------- ML-100K


def test_ml100k_schema_and_sizes(ml100k):
    check_schema(ml100k, with_users=True)
    assert (len(ml100k.ratings), len(ml100k.users), len(ml100k.items)) == (100000, 943, 1682)
    assert ml100k.ratings["user_id"].nunique() == 943
    assert set(ml100k.ratings["rating"]) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert len(ml100k.genre_names) == 18
    assert "1682 items" in repr(ml100k)


def test_ml100k_matches_a_plain_python_parse(ml100k):
    folder = shared_folder("ml-100k") / "ml-100k"
    rows = sorted(
        (int(t), int(u), int(i), float(r))
        for u, i, r, t in (line.split("\t") for line in (folder / "u.data").read_text().split("\n")
                           if line)
    )
    expected = np.array(rows)
    got = ml100k.ratings[["timestamp", "user_id", "item_id", "rating"]].to_numpy(np.float64)
    np.testing.assert_array_equal(got, expected)
    lines = (folder / "u.item").read_text(encoding="latin-1").splitlines()
    genres = [g.split("|")[0] for g in (folder / "u.genre").read_text().split("\n") if g]
    flags = np.array([[int(v) for v in line.split("|")[5:]] for line in lines], dtype=np.float32)
    named = [genres.index(g if g != "Children" else "Children's") for g in ml100k.genre_names]
    np.testing.assert_array_equal(ml100k.genre_matrix(), flags[:, named])
    users = [line.split("|") for line in (folder / "u.user").read_text().splitlines()]
    assert ml100k.users.astype({"age": str, "user_id": str}).to_numpy().tolist() == users


def test_ml100k_items_titles_and_quirks(ml100k):
    items = ml100k.items.set_index("item_id")
    assert items.loc[1, "title"] == "Toy Story" and items.loc[1, "year"] == 1995
    assert items.loc[1, "genres"] == ["Animation", "Children", "Comedy"]
    assert items.loc[11, "title"] == "Seven (Se7en)" and items.loc[11, "year"] == 1995
    assert items.loc[267, "title"] == "unknown" and pd.isna(items.loc[267, "year"])
    assert items.loc[267, "genres"] == []
    assert items.loc[1412, "year"] == 1995 and items.loc[1412, "title"].endswith("Giving (V)")
    assert any("é" in t for t in items["title"])  # latin-1 decoded
    # the duplicate-title quirk is kept: one movie under two ids
    assert items.loc[246, "title"] == items.loc[268, "title"] == "Chasing Amy"
    assert items.duplicated(["title", "year"]).sum() == 18


# ---------------------------------------------------------------- ml-latest-small


def test_latest_small_schema_sizes_and_csv_details(latest):
    check_schema(latest, with_users=False)
    assert (len(latest.ratings), latest.ratings["user_id"].nunique(), len(latest.items)) == (
        100836, 610, 9742)
    assert set(latest.ratings["rating"]) == {x / 2 for x in range(1, 11)}
    assert "IMAX" in latest.genre_names and len(latest.genre_names) == 19
    items = latest.items.set_index("item_id")
    assert items.loc[11, "title"] == "American President, The"  # quoted, with a comma
    assert items.loc[40697, "title"] == "Babylon 5" and pd.isna(items.loc[40697, "year"])
    assert items.loc[143410, "genres"] == []  # "(no genres listed)"
    assert not any("\r" in t for t in items["title"])
    assert not any("\r" in g for gs in items["genres"] for g in gs)  # CRLF handled
    with open(shared_folder("ml-latest-small") / "ml-latest-small" / "movies.csv",
              encoding="utf-8", newline="") as f:
        reference = list(csv.DictReader(f))
    for row, (_, item) in zip(reference, latest.items.iterrows()):
        raw = row["genres"].split("|")
        assert item["genres"] == [("Children" if g == "Children's" else g) for g in raw
                                  if g != "(no genres listed)"]
    np.testing.assert_array_equal(latest.genre_matrix(),
                                  genre_matrix_reference(latest.items, latest.genre_names))


def test_all_variants_share_one_schema(ml100k, latest):
    for a, b in [(ml100k.ratings, latest.ratings), (ml100k.items, latest.items)]:
        assert a.dtypes.to_dict() == b.dtypes.to_dict()


def test_split_title_cases():
    parts = split_title(pd.Series(["Toy Story (1995)", "Seven (Se7en) (1995)", "Babylon 5",
                                   "Death Note (2006\u20132007)", "Two Friends (1986) ",
                                   "1984 (1956)", "X (1995) (V)"]))
    assert parts["title"].tolist() == ["Toy Story", "Seven (Se7en)", "Babylon 5", "Death Note",
                                       "Two Friends", "1984", "X (V)"]
    assert parts["year"].tolist()[:2] == [1995, 1995] and pd.isna(parts["year"][2])
    assert parts["year"].tolist()[3:] == [2006, 1986, 1956, 1995]


def test_genre_matrix_errors_and_default_vocabulary():
    items = pd.DataFrame({"genres": [["Drama"], [], ["Comedy", "Drama"]]})
    np.testing.assert_array_equal(genre_matrix(items), [[0, 1], [0, 0], [1, 1]])
    with pytest.raises(ValueError, match="not in genre_names: \\['Drama'\\]"):
        genre_matrix(items, ["Comedy"])
    with pytest.raises(ValueError, match="'genres' column"):
        genre_matrix(pd.DataFrame({"x": [1]}))


def test_unknown_release_name():
    with pytest.raises(ValueError, match="ml-100k"):
        load_movielens("ml-20m")


# ---------------------------------------------------------------- ML-1M (tiny stand-in)

ML1M_RATINGS = ["1::10::5::978300760", "1::20::3::978302109", "2::10::4::978298413",
                "3::30::1::978298413", "2::30::2::978300000"]
ML1M_MOVIES = ["10::Misérables, Les (1995)::Drama|Musical",
               "20::Seven (Se7en) (1995)::Crime|Thriller",
               "30::Toy Story (1995)::Animation|Children's|Comedy",
               "40::Nobody Rated: This (2000)::Documentary"]
ML1M_USERS = ["1::F::1::10::48067", "2::M::56::16::70072", "3::M::25::0::55117-1234"]


def tiny_ml1m(tmp_path: Path, monkeypatch) -> Path:
    """Zip ML-1M-shaped files, point the ml-1m registry entry and the 'network' at them."""
    members = {"ml-1m/README": "tiny stand-in\n", "ml-1m/ratings.dat": ML1M_RATINGS,
               "ml-1m/movies.dat": ML1M_MOVIES, "ml-1m/users.dat": ML1M_USERS}
    archive = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, lines in members.items():
            text = lines if isinstance(lines, str) else "\n".join(lines) + "\n"
            zf.writestr(name, text.encode("latin-1"))
    data = archive.read_bytes()
    monkeypatch.setitem(DATASETS, "ml-1m", dataclasses.replace(
        DATASETS["ml-1m"], sha256=hashlib.sha256(data).hexdigest(), size=len(data)))

    def serve(url, destination, expected_size=None):
        assert url == DATASETS["ml-1m"].url
        shutil.copyfile(archive, destination)

    monkeypatch.setattr(download, "_download", serve)
    return tmp_path / "home"


def test_ml1m_code_path_on_a_tiny_archive(tmp_path, monkeypatch, ml100k):
    home = tiny_ml1m(tmp_path, monkeypatch)
    ml = load_movielens("ml-1m", data_home=home)
    check_schema(ml, with_users=True)
    for a, b in [(ml.ratings, ml100k.ratings), (ml.items, ml100k.items),
                 (ml.users, ml100k.users)]:
        assert a.dtypes.to_dict() == b.dtypes.to_dict()
    assert ml.ratings[["user_id", "item_id"]].to_numpy().tolist() == [
        [2, 10], [3, 30], [2, 30], [1, 10], [1, 20]]  # by timestamp, then user_id, item_id
    assert ml.ratings["rating"].tolist() == [4.0, 1.0, 2.0, 5.0, 3.0]
    items = ml.items.set_index("item_id")
    assert items.loc[10, "title"] == "Misérables, Les" and items.loc[10, "year"] == 1995
    assert items.loc[20, "title"] == "Seven (Se7en)"
    assert items.loc[30, "genres"] == ["Animation", "Children", "Comedy"]
    assert items.loc[40, "title"] == "Nobody Rated: This"
    assert ml.genre_names == ml100k.genre_names  # one vocabulary (ML-1M's README list)
    assert ml.users["age"].tolist() == [1, 56, 25]
    assert ml.users["occupation"].tolist() == [ML1M_OCCUPATIONS[10], "self-employed", "other"]
    assert ml.users["zip"].tolist() == ["48067", "70072", "55117-1234"]
    manifest = (home / "ml-1m" / "SHA256SUMS").read_text().splitlines()
    assert len(manifest) == 4
    for line in manifest:
        digest, rel = line.split("  ")
        assert hashlib.sha256((home / "ml-1m" / rel).read_bytes()).hexdigest() == digest

    # a second load verifies against the manifest, offline
    def no_network(url, destination, expected_size=None):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(download, "_download", no_network)
    monkeypatch.setattr(download, "_VERIFIED", {})
    again = load_movielens("ml-1m", data_home=home, download=False)
    pd.testing.assert_frame_equal(again.ratings, ml.ratings)
    path = home / "ml-1m" / "ratings.dat"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ChecksumError, match="ratings.dat"):
        load_movielens("ml-1m", data_home=home)
    (home / "ml-1m" / "SHA256SUMS").unlink()
    with pytest.raises(UnverifiedFileError, match="Delete the folder"):
        load_movielens("ml-1m", data_home=home)


# ---------------------------------------------------------------- Adult


def test_adult_shapes_types_and_labels():
    train, test = load_adult(data_home=shared_folder("adult"), download=False)
    assert train.shape == (32561, 15) and test.shape == (16281, 15)
    for frame in (train, test):
        assert list(frame.columns) == ADULT_COLUMNS + ["label"]
        assert all(frame[c].dtype == np.int64 for c in ADULT_NUMERIC + ["label"])
        for c in set(ADULT_COLUMNS) - set(ADULT_NUMERIC):
            assert pd.api.types.is_string_dtype(frame[c])
            values = frame[c].dropna()
            assert not values.str.contains(r"^\s|\s$|^\?$").any()
        assert set(frame["label"]) == {0, 1}
    assert train["label"].mean() == pytest.approx(7841 / 32561)  # 24.1% earn >50K
    assert test["label"].mean() == pytest.approx(3846 / 16281)
    assert train[["workclass", "occupation", "native-country"]].isna().sum().tolist() == [
        1836, 1843, 583]
    assert train.iloc[0].tolist()[:5] == [39, "State-gov", 77516, "Bachelors", 13]
    folder = shared_folder("adult") / "adult"
    with open(folder / "adult.test") as f:
        rows = [[v.strip() for v in row] for row in csv.reader(f) if len(row) == 15]
    assert len(rows) == len(test)
    assert [int(r[14].rstrip(".") == ">50K") for r in rows] == test["label"].tolist()
    assert [int(r[2]) for r in rows] == test["fnlwgt"].tolist()


# ---------------------------------------------------------------- ids


def test_idmap_round_trip_and_errors():
    raw = np.array([30, 10, 20, 10, 30])
    id_map = IdMap.fit(raw)
    assert len(id_map) == 3 and id_map.values.tolist() == [10, 20, 30]
    index = id_map.index(raw)
    assert index.dtype == np.int64 and index.tolist() == [2, 0, 1, 0, 2]
    assert id_map.ids(index).tolist() == raw.tolist()
    assert id_map.index(np.array([[20], [30]])).shape == (2, 1)
    with pytest.raises(ValueError, match=r"2 unknown id\(s\).*\[99, 5\]"):
        id_map.index([10, 99, 5, 99])
    with pytest.raises(ValueError, match=r"out of range 0..2: \[-1, 3\]"):
        id_map.ids([0, 3, -1])
    with pytest.raises(ValueError, match="integers"):
        id_map.ids([0.5])
    with pytest.raises(ValueError, match="missing"):
        IdMap.fit([1.0, np.nan])
    names = IdMap.fit(["b", "a", "c"])
    assert names.index(["c", "a"]).tolist() == [2, 0]
    with pytest.raises(ValueError, match="unknown"):
        names.index(["zz"])
    empty = IdMap.fit([])
    assert len(empty) == 0 and empty.index([]).tolist() == []
    with pytest.raises(ValueError, match="unknown"):
        empty.index([1])


def test_encode_ids_with_and_without_side_tables():
    ratings = pd.DataFrame({"user_id": [7, 3, 7], "item_id": [200, 100, 100],
                            "rating": np.float32([1, 2, 3])})
    items = pd.DataFrame({"item_id": [300, 100, 200], "title": ["c", "a", "b"]})
    users = pd.DataFrame({"user_id": [3, 5, 7]})
    original = ratings.copy()
    enc = encode_ids(ratings)
    assert (enc.num_users, enc.num_items) == (2, 2)
    assert enc.ratings["user"].tolist() == [1, 0, 1] and enc.ratings["item"].tolist() == [1, 0, 0]
    assert enc.ratings["user"].dtype == np.int64 and enc.items is None and enc.users is None
    pd.testing.assert_frame_equal(ratings, original)
    enc = encode_ids(ratings, items=items, users=users)
    assert (enc.num_users, enc.num_items) == (3, 3)  # item 300 and user 5 have no ratings
    assert enc.items["item"].tolist() == [2, 0, 1] and enc.users["user"].tolist() == [0, 1, 2]
    assert enc.ratings["item"].tolist() == [1, 0, 0]
    assert enc.item_map.ids(enc.ratings["item"]).tolist() == ratings["item_id"].tolist()
    assert "item" not in items.columns
    with pytest.raises(ValueError, match=r"ratings.item_id: 1 unknown id\(s\).*\[200\]"):
        encode_ids(ratings, items=items[items["item_id"] != 200])
    with pytest.raises(ValueError, match=r"repeated ids: \[100\]"):
        encode_ids(ratings, items=pd.concat([items, items.iloc[[1]]]))
    with pytest.raises(ValueError, match="needs a 'user_id' column"):
        encode_ids(ratings.drop(columns="user_id"))


def test_encode_ids_on_ml100k(ml100k):
    enc = encode_ids(ml100k.ratings, items=ml100k.items, users=ml100k.users)
    assert (enc.num_users, enc.num_items) == (943, 1682)
    assert enc.ratings["item"].between(0, 1681).all()
    np.testing.assert_array_equal(enc.ratings["item"] + 1, enc.ratings["item_id"])  # ids 1..1682
