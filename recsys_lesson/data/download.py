"""Find a data set on disk, verify it, and download it only when it is missing.

Every loader in the book (:mod:`recsys_lesson.data.movielens`, :mod:`recsys_lesson.data.adult`)
calls :func:`fetch`, which

1. chooses the data folder (:func:`data_home`): the ``data_home`` argument, else the environment
   variable ``RECSYS_LESSON_DATA``, else a per-user cache folder
   (``$XDG_CACHE_HOME/recsys_lesson``, by default ``~/.cache/recsys_lesson``);
2. looks for the data set in ``<data folder>/<name>/`` and checks the SHA-256 of every file the
   registry (:mod:`recsys_lesson.data.registry`) lists; a file that fails is never deleted or
   overwritten: :class:`ChecksumError` names it, with the expected and actual hashes;
3. only if files are missing, downloads the official archive (with a progress bar) into a
   temporary file inside the data folder, checks its size and SHA-256, extracts only the
   registered members into a temporary folder (refusing any member name that points outside
   it), checks every extracted file, and moves the missing files into place with ``os.replace``.

Nothing is written when the files are already there and verified, so a read-only data folder
(a shared copy, CI) works. Successful verifications are remembered for the rest of the process,
keyed by (path, size, modification time), so loading the same data again does not re-hash it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Tuple, Union

from tqdm.auto import tqdm

from .registry import MANIFEST_NAME, DataSet, get_dataset

ENV_VAR = "RECSYS_LESSON_DATA"
"""Environment variable that names the data folder when no ``data_home`` argument is given."""

PathLike = Union[str, "os.PathLike[str]"]

_CHUNK = 1 << 20  # bytes read at a time while hashing, downloading and extracting
_TIMEOUT_S = 60  # seconds of silence before a download gives up
_VERIFIED: Dict[Tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> verified SHA-256


class ChecksumError(ValueError):
    """A file or archive whose SHA-256 is not the one the registry (or manifest) expects."""

    def __init__(
        self,
        path: Union[PathLike, str],
        expected: str,
        actual: str,
        hint: Optional[str] = None,
    ) -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        self.hint = hint
        if hint is None:
            hint = (
                "The file is damaged, truncated or not the official release. Nothing was deleted "
                "or overwritten: delete the file yourself and call again to download a fresh copy."
            )
        super().__init__(
            f"SHA-256 mismatch for {path}: expected {expected}, actual {actual}. {hint}"
        )

    def __reduce__(self):  # keep the exception picklable despite the custom signature
        return (type(self), (self.path, self.expected, self.actual, self.hint))


class UnsafeArchiveError(ValueError):
    """An archive member (or registry path) that would be written outside its destination."""


class DataUnavailableError(FileNotFoundError):
    """The data set is not on disk and cannot be downloaded now (offline, or download=False)."""


class UnverifiedFileError(ValueError):
    """A file on disk with neither a registry hash nor a manifest entry to check it against."""


def _default_home() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg).expanduser() if xdg and Path(xdg).expanduser().is_absolute() else None
    return (base if base is not None else Path.home() / ".cache") / "recsys_lesson"


def _resolve_home(data_home: Optional[PathLike] = None) -> Path:
    if data_home is not None:
        return Path(data_home).expanduser().absolute()
    env = os.environ.get(ENV_VAR, "")
    if env:
        return Path(env).expanduser().absolute()
    return _default_home().absolute()


def data_home(data_home: Optional[PathLike] = None) -> Path:
    """The data folder: ``data_home`` if given, else ``$RECSYS_LESSON_DATA``, else a cache folder.

    The cache folder is ``$XDG_CACHE_HOME/recsys_lesson`` when ``XDG_CACHE_HOME`` is set to an
    absolute path, else ``~/.cache/recsys_lesson``. Calling this creates nothing.
    """
    return _resolve_home(data_home)


def sha256_file(path: PathLike) -> str:
    """SHA-256 of a file's bytes, as 64 lower-case hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: PathLike, sha256: str) -> None:
    """Check that the file at ``path`` has SHA-256 ``sha256``; ChecksumError if not.

    A success is remembered for this process under (path, size, modification time), so a second
    call on an unchanged file costs one ``stat``. The file is never modified or deleted.
    """
    path = Path(path)
    expected = sha256.lower()
    stat = path.stat()
    key = (str(path.absolute()), stat.st_size, stat.st_mtime_ns)
    if _VERIFIED.get(key) == expected:
        return
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumError(path, expected, actual)
    _VERIFIED[key] = actual


def read_manifest(folder: PathLike) -> Dict[str, str]:
    """Read ``<folder>/SHA256SUMS`` as {relative path: hash}; {} if absent."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        return {}
    hashes = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            match = re.fullmatch(r"([0-9a-fA-F]{64}) [ *](?:\./)?(.+)", line)
            if match is None:
                raise ValueError(
                    f"line {number} of the manifest {path} is not '<sha256>  <file>': {line!r}. "
                    f"Delete the folder {path.parent} and call again to download the data set."
                )
            hashes[match.group(2)] = match.group(1).lower()
    return hashes


def _write_manifest(folder: Path, hashes: Dict[str, str]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST_NAME}-", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            for rel in sorted(hashes):
                f.write(f"{hashes[rel]}  {rel}\n")
        os.replace(tmp, folder / MANIFEST_NAME)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _is_unsafe(name: str, destination: Path) -> bool:
    """Whether an archive member or registry path would land outside ``destination``."""
    normal = name.replace("\\", "/")
    if not normal or normal.startswith("/") or re.match(r"^[A-Za-z]:", normal):
        return True
    if ".." in PurePosixPath(normal).parts:
        return True
    root = destination.resolve()
    target = (root / normal).resolve()
    return target != root and root not in target.parents


def _check_entry(dataset: DataSet, folder: Path) -> None:
    """Refuse a registry entry whose paths escape the folder or whose sources are incomplete."""
    names = list(dataset.files) + list(dataset.members.values())
    unsafe = [name for name in names if _is_unsafe(name, folder)]
    if unsafe:
        raise UnsafeArchiveError(
            f"registry entry {dataset.name!r} names paths outside its folder: {unsafe}; "
            "nothing was read or written."
        )
    for rel, sha in dataset.files.items():
        if dataset.url is not None:
            ok = rel in dataset.members
        else:
            ok = rel in dataset.file_urls and sha is not None
        if not ok:
            raise ValueError(
                f"registry entry {dataset.name!r} gives no verifiable source for {rel!r}: an "
                "archive data set needs a member for every file; a data set served as "
                "individual files needs a URL and a SHA-256 for every file."
            )
    if dataset.url is not None and (dataset.sha256 is None or dataset.size is None):
        raise ValueError(f"registry entry {dataset.name!r} has an archive URL but no SHA-256/size")


def _unavailable_message(dataset: DataSet, folder: Path, missing: List[str], reason: str) -> str:
    home = folder.parent
    if dataset.url is not None:
        get = (
            f"download {dataset.url} yourself and extract it into {home} so that the files "
            f"lie in {folder}"
        )
        source = dataset.url
    else:
        urls = [dataset.file_urls[rel] for rel in missing]
        get = f"download {', '.join(urls)} yourself into {folder}"
        source = ", ".join(urls)
    return (
        f"data set {dataset.name!r} is not available: the data folder {folder} lacks "
        f"{', '.join(missing)}, and {reason}. The data folder is the data_home argument if given, "
        f"else the environment variable {ENV_VAR}, else {_default_home()}. To fix it, either call "
        f"again with download=True on a machine that can reach {source}; or {get}; or set "
        f"{ENV_VAR} (or pass data_home) to a folder that holds a verified '{dataset.name}' folder."
    )


def _unverified_message(dataset: DataSet, folder: Path, unverified: List[str]) -> str:
    return (
        f"cannot verify {', '.join(str(folder / rel) for rel in unverified)}: no SHA-256 is "
        f"published for these files and {folder / MANIFEST_NAME} has no entry for them (the "
        "package writes that manifest when it downloads and checks the official archive). "
        f"Delete the folder {folder} and call again to let the package download "
        f"{dataset.url}, or pass data_home (or set {ENV_VAR}) to a folder holding a copy "
        "downloaded and verified by this package."
    )


def _download(url: str, destination: PathLike, expected_size: Optional[int] = None) -> None:
    """Stream ``url`` into the file ``destination`` with a progress bar (the only network call)."""
    request = urllib.request.Request(url, headers={"User-Agent": "recsys-lesson"})
    with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
        total = expected_size or int(response.headers.get("Content-Length") or 0) or None
        name = PurePosixPath(urllib.parse.urlparse(url).path).name
        with open(destination, "wb") as out, tqdm(
            total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name
        ) as bar:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                bar.update(len(chunk))


def _move_into_place(source: Path, target: Path) -> None:
    """Atomically put ``source`` at ``target`` (same file system; else copy beside it first)."""
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", suffix=".part", dir=target.parent)
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _temp_file(home: Path, dataset: DataSet, folder: Path, missing: List[str], suffix: str) -> Path:
    try:
        home.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{dataset.name}-", suffix=suffix, dir=home)
    except OSError as exc:
        reason = f"the data folder cannot be written to for a download ({exc})"
        raise DataUnavailableError(_unavailable_message(dataset, folder, missing, reason)) from exc
    os.close(fd)
    return Path(name)


def _get(url: str, destination: Path, size: Optional[int], dataset: DataSet, folder: Path,
         missing: List[str]) -> None:
    try:
        _download(url, destination, size)
    except OSError as exc:  # urllib.error.URLError, timeouts and connection errors are OSErrors
        reason = f"downloading {url} failed ({exc})"
        raise DataUnavailableError(_unavailable_message(dataset, folder, missing, reason)) from exc


def _extract(archive: Path, dataset: DataSet, destination: Path) -> Dict[str, str]:
    """Extract the registered members into ``destination``; return {relative path: SHA-256}."""
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        unsafe = [name for name in names if _is_unsafe(name, destination)]
        if unsafe:
            raise UnsafeArchiveError(
                f"the archive from {dataset.url} holds member names that point outside the "
                f"folder it is extracted into: {unsafe[:5]}; nothing was extracted."
            )
        absent = sorted(set(dataset.members.values()) - set(names))
        if absent:
            raise ValueError(
                f"the archive from {dataset.url} lacks the members {absent}; nothing was extracted."
            )
        hashes = {}
        for rel in dataset.files:
            target = destination / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with zf.open(dataset.members[rel]) as src, open(target, "wb") as dst:
                for chunk in iter(lambda: src.read(_CHUNK), b""):
                    digest.update(chunk)
                    dst.write(chunk)
            hashes[rel] = digest.hexdigest()
    return hashes


def _fetch_archive(
    dataset: DataSet, home: Path, folder: Path, missing: List[str], unverified: List[str]
) -> None:
    archive = _temp_file(home, dataset, folder, missing, suffix=".zip.part")
    try:
        _get(dataset.url, archive, dataset.size, dataset, folder, missing)
        size = archive.stat().st_size
        actual = sha256_file(archive)
        if actual != dataset.sha256 or size != dataset.size:
            raise ChecksumError(
                dataset.url,
                dataset.sha256,
                actual,
                hint=f"The download ({size} bytes; expected {dataset.size}) was not the official "
                f"archive and has been removed; nothing was extracted. Try again later, or "
                f"download it yourself and extract it into {home}.",
            )
        with tempfile.TemporaryDirectory(prefix=f".{dataset.name}-", dir=home) as tmp:
            hashes = _extract(archive, dataset, Path(tmp))
            for rel, known in dataset.files.items():
                if known is not None and hashes[rel] != known:
                    raise ChecksumError(
                        f"{dataset.url}:{dataset.members[rel]}",
                        known,
                        hashes[rel],
                        hint="The archive matched its SHA-256 but this member does not match "
                        "the registry, so the registry is out of date; nothing was installed. "
                        "Please report this to the recsys-lesson maintainers.",
                    )
            for rel in unverified:  # files the user already had: compare with the official ones
                verify_file(folder / rel, hashes[rel])
            folder.mkdir(parents=True, exist_ok=True)
            for rel in missing:
                target = folder / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists():  # appeared meanwhile (another process): check, keep
                    verify_file(target, hashes[rel])
                else:
                    _move_into_place(Path(tmp) / rel, target)
            if any(sha is None for sha in dataset.files.values()):
                _write_manifest(folder, hashes)
    finally:
        if archive.exists():
            archive.unlink()


def _fetch_files(dataset: DataSet, home: Path, folder: Path, missing: List[str]) -> None:
    for rel in missing:
        url = dataset.file_urls[rel]
        part = _temp_file(home, dataset, folder, missing, suffix=".part")
        try:
            _get(url, part, None, dataset, folder, missing)
            actual = sha256_file(part)
            if actual != dataset.files[rel]:
                raise ChecksumError(
                    url,
                    dataset.files[rel],
                    actual,
                    hint="The download was not the official file and has been removed. "
                    f"Try again later, or download it yourself into {folder}.",
                )
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                verify_file(target, dataset.files[rel])
            else:
                _move_into_place(part, target)
        finally:
            if part.exists():
                part.unlink()


def fetch(name: str, data_home: Optional[PathLike] = None, download: bool = True) -> Path:
    """Return the verified folder ``<data folder>/<name>/`` of a registered data set.

    Every registered file present is checked against the registry's SHA-256 (else the
    folder's manifest, see :mod:`recsys_lesson.data.registry`). Missing files are downloaded
    from the official source when ``download`` is true.

    Raises:
        ValueError: ``name`` is not registered (the message lists the known names).
        ChecksumError: a file on disk, or the download, does not have the expected SHA-256.
        UnverifiedFileError: a file on disk has neither a registry hash nor a manifest entry.
        UnsafeArchiveError: the archive holds a member that would land outside its folder.
        DataUnavailableError: files are missing and ``download`` is false or the network failed.
    """
    dataset = get_dataset(name)
    home = _resolve_home(data_home)
    folder = home / dataset.name
    _check_entry(dataset, folder)
    manifest = read_manifest(folder)
    missing: List[str] = []
    unverified: List[str] = []
    for rel, known in dataset.files.items():
        path = folder / rel
        if not path.is_file():
            missing.append(rel)
            continue
        expected = known if known is not None else manifest.get(rel)
        if expected is None:
            unverified.append(rel)
            continue
        verify_file(path, expected)
    if not missing:
        if unverified:
            raise UnverifiedFileError(_unverified_message(dataset, folder, unverified))
        return folder
    if not download:
        reason = "download=False was passed"
        raise DataUnavailableError(_unavailable_message(dataset, folder, missing, reason))
    if dataset.url is not None:
        _fetch_archive(dataset, home, folder, missing, unverified)
    else:
        _fetch_files(dataset, home, folder, missing)
    return folder
