"""Tests of the registry and of fetch/verify/download (no network: `_download` is patched)."""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import io
import os
import pickle
import re
import shutil
import tempfile
import urllib.error
import zipfile
from pathlib import Path

import pytest

from recsys_lesson.data import download
from recsys_lesson.data.download import (
    ENV_VAR,
    ChecksumError,
    DataUnavailableError,
    UnsafeArchiveError,
    UnverifiedFileError,
    data_home,
    fetch,
    read_manifest,
    sha256_file,
    verify_file,
)
from recsys_lesson.data.registry import DATASETS, DataSet, get_dataset

SHARED = os.environ.get(ENV_VAR)
REAL_DOWNLOAD = download._download  # kept before the autouse fixture replaces it
TOY_URL = "https://example.invalid/toy.zip"
TOY_FILES = {"a.txt": b"alpha\n", "sub/b.csv": b"x,y\r\n1,2\r\n", "README": b"toy data\n"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shared_folder(name: str) -> Path:
    if not SHARED or not (Path(SHARED) / name).is_dir():
        pytest.skip(f"set {ENV_VAR} to the offline data folder holding {name}/")
    return Path(SHARED)


def files_under(folder: Path) -> list:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def make_zip(path: Path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)  # writestr keeps '/abs' and '../x' names as given
    return path


def toy_entry(archive: Path, hashes: bool = True, **changes) -> DataSet:
    data = archive.read_bytes()
    entry = DataSet(
        name="toy",
        description="a toy data set for the tests",
        homepage="https://example.invalid/",
        licence="test data",
        url=TOY_URL,
        sha256=sha(data),
        size=len(data),
        files={rel: (sha(content) if hashes else None) for rel, content in TOY_FILES.items()},
        members={rel: f"toy/{rel}" for rel in TOY_FILES},
    )
    return dataclasses.replace(entry, **changes)


class Server:
    """Stands in for the network: serves local files by URL and counts the calls."""

    def __init__(self, files: dict):
        self.files = files
        self.calls = []

    def __call__(self, url, destination, expected_size=None):
        self.calls.append((url, Path(destination), expected_size))
        if url not in self.files:
            raise urllib.error.URLError("not served")
        shutil.copyfile(self.files[url], destination)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test may reach the network; verification caches start empty."""

    def no_network(url, destination, expected_size=None):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(download, "_download", no_network)
    monkeypatch.setattr(download, "_VERIFIED", {})


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A registered toy data set whose archive lies in tmp_path/src; returns (home, server)."""
    src = tmp_path / "src"
    src.mkdir()
    archive = make_zip(src / "toy.zip", {f"toy/{rel}": data for rel, data in TOY_FILES.items()})
    monkeypatch.setitem(DATASETS, "toy", toy_entry(archive))
    server = Server({TOY_URL: archive})
    monkeypatch.setattr(download, "_download", server)
    home = tmp_path / "home"
    return home, server


# ---------------------------------------------------------------- registry


def test_registry_entries_are_consistent():
    assert set(DATASETS) >= {"ml-100k", "ml-1m", "ml-latest-small", "adult"}
    for name, entry in DATASETS.items():
        assert entry.name == name
        download._check_entry(entry, Path("/tmp/recsys_lesson_check") / name)
        for value in [entry.sha256, *entry.files.values()]:
            assert value is None or re.fullmatch(r"[0-9a-f]{64}", value)
        if entry.url:
            assert entry.url.startswith("https://files.grouplens.org/datasets/movielens/")
            assert all(m.startswith(f"{name}/") for m in entry.members.values())
    assert DATASETS["ml-1m"].sha256.startswith("a6898adb") and DATASETS["ml-1m"].size == 5917549
    assert all(v is None for v in DATASETS["ml-1m"].files.values())
    assert DATASETS["adult"].url is None and set(DATASETS["adult"].file_urls) == {
        "adult.data", "adult.test", "adult.names"}


def test_registry_hashes_match_the_offline_copies_sums():
    sums = Path(shared_folder("ml-100k")) / "SHA256SUMS"
    published = {}
    for line in sums.read_text().splitlines():
        digest, path = line.split(maxsplit=1)
        published[path.removeprefix("./")] = digest
    for name in ["ml-100k", "ml-latest-small", "adult"]:
        for rel, digest in DATASETS[name].files.items():
            assert published[f"{name}/{rel}"] == digest, (name, rel)


def test_unknown_name_lists_known_names(tmp_path):
    for call in (lambda: get_dataset("ml-10m"), lambda: fetch("ml-10m", data_home=tmp_path)):
        with pytest.raises(ValueError, match="unknown data set 'ml-10m'") as info:
            call()
        for known in ["ml-100k", "ml-1m", "ml-latest-small", "adult"]:
            assert known in str(info.value)
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------- data folder


def test_data_home_precedence_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_home(tmp_path / "explicit") == tmp_path / "explicit"
    assert data_home() == tmp_path / "env"
    monkeypatch.delenv(ENV_VAR)
    assert data_home() == tmp_path / "xdg" / "recsys_lesson"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert data_home() == tmp_path / "user" / ".cache" / "recsys_lesson"
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------- verification


def test_verify_file_and_checksum_error_message(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"hello")
    verify_file(path, sha(b"hello"))
    verify_file(path, sha(b"hello").upper())
    with pytest.raises(ChecksumError) as info:
        verify_file(path, sha(b"world"))
    message = str(info.value)
    assert str(path) in message and sha(b"world") in message and sha(b"hello") in message
    assert isinstance(info.value, ValueError)
    assert (info.value.expected, info.value.actual) == (sha(b"world"), sha(b"hello"))
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == message
    assert path.read_bytes() == b"hello"


def test_verified_files_are_not_hashed_twice(tmp_path, monkeypatch):
    home = shared_folder("ml-100k")
    assert fetch("ml-100k", data_home=home, download=False) == home / "ml-100k"

    def no_hashing(path):
        raise AssertionError(f"{path} hashed again")

    monkeypatch.setattr(download, "sha256_file", no_hashing)
    fetch("ml-100k", data_home=home, download=False)
    copy = tmp_path / "ml-100k"  # a different path is hashed (and a changed file would be too)
    shutil.copytree(home / "ml-100k", copy)
    with pytest.raises(AssertionError, match="hashed again"):
        fetch("ml-100k", data_home=tmp_path, download=False)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_file_is_reported_and_left_untouched(tmp_path, monkeypatch, damage):
    home = shared_folder("ml-100k")
    shutil.copytree(home / "ml-100k", tmp_path / "ml-100k")
    target = tmp_path / "ml-100k" / "u.data"
    data = target.read_bytes()
    damaged = data[: len(data) // 2] if damage == "truncate" else data[:100] + b"9" + data[101:]
    assert damaged != data
    target.write_bytes(damaged)
    server = Server({})
    monkeypatch.setattr(download, "_download", server)
    with pytest.raises(ChecksumError) as info:
        fetch("ml-100k", data_home=tmp_path, download=True)
    message = str(info.value)
    assert str(target) in message
    assert DATASETS["ml-100k"].files["u.data"] in message
    assert sha(damaged) in message
    assert "delete" in message.lower()
    assert target.read_bytes() == damaged
    assert server.calls == []


# ---------------------------------------------------------------- read-only folder


def test_read_only_folder_with_verified_files_is_never_written(tmp_path, monkeypatch):
    home = shared_folder("ml-100k")
    shutil.copytree(home / "ml-100k", tmp_path / "ml-100k")
    for path in [tmp_path, *(tmp_path / "ml-100k").iterdir(), tmp_path / "ml-100k"]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    real_open = builtins.open

    def read_only_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+"):
            raise PermissionError(f"write attempted: {file}")
        return real_open(file, mode, *args, **kwargs)

    def refuse(*args, **kwargs):
        raise PermissionError(f"write attempted: {args}")

    monkeypatch.setattr(builtins, "open", read_only_open)
    for module, name in [(os, "replace"), (os, "mkdir"), (os, "makedirs"), (os, "unlink"),
                         (os, "open"), (tempfile, "mkstemp"), (tempfile, "mkdtemp"),
                         (Path, "mkdir"), (Path, "write_bytes"), (Path, "unlink")]:
        monkeypatch.setattr(module, name, refuse)
    try:
        assert fetch("ml-100k", data_home=tmp_path) == tmp_path / "ml-100k"
        assert fetch("ml-100k", data_home=tmp_path, download=False) == tmp_path / "ml-100k"
    finally:
        monkeypatch.undo()
        for path in [tmp_path, tmp_path / "ml-100k"]:
            path.chmod(0o755)


# ---------------------------------------------------------------- data unavailable


@pytest.mark.parametrize("name", ["ml-100k", "ml-1m", "adult"])
def test_offline_without_data_names_folder_env_var_and_url(tmp_path, name):
    home = tmp_path / "empty"
    for allow in (False, True):  # download=False, or a download that fails (offline)
        with pytest.raises(DataUnavailableError) as info:
            fetch(name, data_home=home, download=allow)
        message = str(info.value)
        assert isinstance(info.value, FileNotFoundError)
        assert str(home / name) in message
        assert ENV_VAR in message
        entry = DATASETS[name]
        for url in [entry.url] if entry.url else entry.file_urls.values():
            assert url in message
        assert ("download=False" in message) == (not allow)
    assert files_under(tmp_path) == []


def test_env_var_selects_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "from-env"))
    with pytest.raises(DataUnavailableError, match=re.escape(str(tmp_path / "from-env" / "adult"))):
        fetch("adult", download=False)


# ---------------------------------------------------------------- download path


def test_download_end_to_end(toy):
    home, server = toy
    folder = fetch("toy", data_home=home)
    assert folder == home / "toy"
    for rel, content in TOY_FILES.items():
        assert (folder / rel).read_bytes() == content
    assert files_under(home) == sorted(["toy/a.txt", "toy/sub/b.csv", "toy/README"])
    [(url, destination, size)] = server.calls
    assert url == TOY_URL and destination.parent == home and size == DATASETS["toy"].size
    server.files.clear()  # a second load is served from disk
    assert fetch("toy", data_home=home, download=False) == folder
    assert len(server.calls) == 1


def test_real_download_function_through_a_file_url(toy, tmp_path, monkeypatch, capsys):
    home, server = toy
    archive = server.files[TOY_URL]
    url = archive.as_uri()  # urllib reads file:// URLs: the real code path, no network
    monkeypatch.setitem(DATASETS, "toy", dataclasses.replace(DATASETS["toy"], url=url))
    monkeypatch.setattr(download, "_download", REAL_DOWNLOAD)
    folder = fetch("toy", data_home=home)
    assert (folder / "sub" / "b.csv").read_bytes() == TOY_FILES["sub/b.csv"]
    assert "toy.zip" in capsys.readouterr().err  # the progress bar
    shutil.rmtree(folder)
    archive.unlink()  # the source is gone: a URLError, reported as unavailable
    with pytest.raises(DataUnavailableError, match=re.escape(url)):
        fetch("toy", data_home=home)
    assert files_under(home) == []


def test_download_restores_only_missing_files(toy):
    home, server = toy
    folder = fetch("toy", data_home=home)
    (folder / "sub" / "b.csv").unlink()
    before = (folder / "a.txt").stat()
    fetch("toy", data_home=home)
    assert (folder / "sub" / "b.csv").read_bytes() == TOY_FILES["sub/b.csv"]
    after = (folder / "a.txt").stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert len(server.calls) == 2


def test_present_different_file_is_not_overwritten_by_a_download(toy):
    home, server = toy
    (home / "toy").mkdir(parents=True)
    (home / "toy" / "a.txt").write_bytes(b"my own notes\n")
    with pytest.raises(ChecksumError, match=re.escape(sha(b"my own notes\n"))):
        fetch("toy", data_home=home)
    assert (home / "toy" / "a.txt").read_bytes() == b"my own notes\n"
    assert server.calls == []


def test_tampered_archive_is_rejected_and_removed(toy, tmp_path):
    home, server = toy
    bad = make_zip(tmp_path / "src" / "bad.zip",
                   {f"toy/{rel}": data + b"!" for rel, data in TOY_FILES.items()})
    server.files[TOY_URL] = bad
    with pytest.raises(ChecksumError) as info:
        fetch("toy", data_home=home)
    message = str(info.value)
    assert DATASETS["toy"].sha256 in message and sha(bad.read_bytes()) in message
    assert TOY_URL in message
    assert files_under(home) == []


def test_member_hash_mismatch_installs_nothing(toy, monkeypatch):
    home, server = toy
    entry = DATASETS["toy"]
    files = dict(entry.files, **{"a.txt": sha(b"something else")})
    monkeypatch.setitem(DATASETS, "toy", dataclasses.replace(entry, files=files))
    with pytest.raises(ChecksumError, match="registry is out of date"):
        fetch("toy", data_home=home)
    assert files_under(home) == []


@pytest.mark.parametrize("evil", ["../evil.txt", "/tmp/recsys_lesson_evil.txt",
                                  "toy/../../evil.txt", "..\\evil.txt", "C:/evil.txt"])
def test_unsafe_member_is_refused_with_nothing_written(toy, tmp_path, monkeypatch, evil):
    home, server = toy
    members = {f"toy/{rel}": data for rel, data in TOY_FILES.items()}
    archive = make_zip(tmp_path / "src" / "evil.zip", {**members, evil: b"gotcha"})
    assert evil in zipfile.ZipFile(archive).namelist()
    monkeypatch.setitem(DATASETS, "toy", toy_entry(archive))
    server.files[TOY_URL] = archive
    with pytest.raises(UnsafeArchiveError, match="nothing was extracted"):
        fetch("toy", data_home=home)
    assert files_under(home) == []
    assert not (tmp_path / "evil.txt").exists() and not (home / "evil.txt").exists()
    assert not Path("/tmp/recsys_lesson_evil.txt").exists()


def test_unsafe_registry_member_is_refused_before_download(toy, monkeypatch):
    home, server = toy
    entry = DATASETS["toy"]
    members = dict(entry.members, **{"a.txt": "../../etc/passwd"})
    monkeypatch.setitem(DATASETS, "toy", dataclasses.replace(entry, members=members))
    with pytest.raises(UnsafeArchiveError, match="outside"):
        fetch("toy", data_home=home)
    files = dict(entry.files)
    files["../outside.txt"] = files.pop("a.txt")
    members = dict(entry.members)
    members["../outside.txt"] = members.pop("a.txt")
    monkeypatch.setitem(DATASETS, "toy",
                        dataclasses.replace(entry, files=files, members=members))
    with pytest.raises(UnsafeArchiveError):
        fetch("toy", data_home=home)
    assert server.calls == [] and not home.exists()


# ---------------------------------------------------------------- manifest (files without hashes)


def test_manifest_is_written_and_used_when_file_hashes_are_unknown(toy, monkeypatch):
    home, server = toy
    entry = DATASETS["toy"]
    monkeypatch.setitem(DATASETS, "toy", dataclasses.replace(
        entry, files={rel: None for rel in entry.files}))
    folder = fetch("toy", data_home=home)
    assert read_manifest(folder) == {rel: sha(data) for rel, data in TOY_FILES.items()}
    assert files_under(home) == sorted(["toy/SHA256SUMS", "toy/a.txt", "toy/sub/b.csv",
                                        "toy/README"])
    server.files.clear()
    monkeypatch.setattr(download, "_VERIFIED", {})
    fetch("toy", data_home=home, download=False)  # verified against the manifest
    (folder / "a.txt").write_bytes(b"changed\n")
    with pytest.raises(ChecksumError) as info:
        fetch("toy", data_home=home, download=False)
    assert sha(TOY_FILES["a.txt"]) in str(info.value) and sha(b"changed\n") in str(info.value)
    (folder / "SHA256SUMS").unlink()
    with pytest.raises(UnverifiedFileError) as info:
        fetch("toy", data_home=home, download=False)
    message = str(info.value)
    assert str(folder) in message and "Delete the folder" in message and TOY_URL in message
    assert (folder / "a.txt").read_bytes() == b"changed\n"


def test_unverified_present_files_are_checked_against_the_archive(toy, monkeypatch):
    home, server = toy
    entry = DATASETS["toy"]
    monkeypatch.setitem(DATASETS, "toy", dataclasses.replace(
        entry, files={rel: None for rel in entry.files}))
    (home / "toy").mkdir(parents=True)
    (home / "toy" / "a.txt").write_bytes(TOY_FILES["a.txt"])  # a good copy, no manifest
    fetch("toy", data_home=home)
    assert read_manifest(home / "toy")["a.txt"] == sha(TOY_FILES["a.txt"])
    (home / "toy" / "README").unlink()
    (home / "toy" / "SHA256SUMS").unlink()
    (home / "toy" / "a.txt").write_bytes(b"not the release\n")
    with pytest.raises(ChecksumError, match=re.escape(sha(b"not the release\n"))):
        fetch("toy", data_home=home)
    assert (home / "toy" / "a.txt").read_bytes() == b"not the release\n"
    assert not (home / "toy" / "README").exists()


def test_malformed_manifest_is_a_clear_error(tmp_path):
    (tmp_path / "SHA256SUMS").write_text("not a hash line\n")
    with pytest.raises(ValueError, match="line 1 of the manifest"):
        read_manifest(tmp_path)
    (tmp_path / "SHA256SUMS").write_text(f"{'ab' * 32}  ./x.dat\n\n{'CD' * 32} *y.dat\n")
    assert read_manifest(tmp_path) == {"x.dat": "ab" * 32, "y.dat": "cd" * 32}


# ---------------------------------------------------------------- individual files (Adult)


def test_individual_files_download_and_tampering(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    (src / "one.csv").write_bytes(b"1,2\n")
    (src / "two.csv").write_bytes(b"3,4\n")
    entry = DataSet(
        name="pair", description="", homepage="", licence="",
        files={"one.csv": sha(b"1,2\n"), "two.csv": sha(b"3,4\n")},
        file_urls={"one.csv": "https://example.invalid/one.csv",
                   "two.csv": "https://example.invalid/two.csv"},
    )
    monkeypatch.setitem(DATASETS, "pair", entry)
    server = Server({"https://example.invalid/one.csv": src / "one.csv",
                     "https://example.invalid/two.csv": src / "two.csv"})
    monkeypatch.setattr(download, "_download", server)
    home = tmp_path / "home"
    folder = fetch("pair", data_home=home)
    assert (folder / "one.csv").read_bytes() == b"1,2\n"
    assert files_under(home) == ["pair/one.csv", "pair/two.csv"]
    (folder / "two.csv").unlink()
    (src / "two.csv").write_bytes(b"3,5\n")  # the server now sends something else
    with pytest.raises(ChecksumError, match="https://example.invalid/two.csv"):
        fetch("pair", data_home=home)
    assert files_under(home) == ["pair/one.csv"]


def test_sha256_file_matches_hashlib(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)  # spans several read chunks
    (tmp_path / "big").write_bytes(data)
    assert sha256_file(tmp_path / "big") == hashlib.sha256(io.BytesIO(data).read()).hexdigest()
