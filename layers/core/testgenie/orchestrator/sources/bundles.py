"""Scenario bundles: the `.tar.gz` a run is made from, named by the sha256 of its bytes.

A bundle is untrusted input. Every archive is read in one streaming pass that refuses, before
anything is written: links of any kind (a link chain could lead anywhere), devices and FIFOs,
absolute or escaping names, more than MAX_MEMBERS members, and more than MAX_EXTRACTED_BYTES once
extracted (a 199 KiB gzip of zeros can expand to 200 MiB). The runner keeps downloaded archives in
a cache keyed by digest and checks the digest of the bytes it extracts on every use, so a run that
rewrites the cache cannot change what another run gets (docs/scenarios.md, "Bundles").
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import re
import shutil
import sys
import tarfile
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydantic import Field

from testgenie.errors import ValidationError
from testgenie.models_base import CamelModel
from testgenie.orchestrator.sources.tar_scan import ArchiveRefused, scan

MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
MAX_EXTRACTED_BYTES = 128 * 1024 * 1024
MAX_MEMBERS = 20_000
FETCH_TIMEOUT_SECONDS = 60
# Folders never packed into a bundle (caches, VCS data, local virtualenvs).
SKIP_DIRS = frozenset(
    {".git", "node_modules", "__pycache__", ".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
)
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1024 * 1024


class UnsafeArchiveError(ValidationError):
    """A bundle refused before extraction: a link, a device, an escaping name, or too big once extracted."""


class BundleFetchError(ValidationError):
    """The bundle could not be fetched, or its bytes are not those of the digest it was announced with."""


@dataclass(frozen=True)
class BundleLimits:
    archive_bytes: int = MAX_ARCHIVE_BYTES
    extracted_bytes: int = MAX_EXTRACTED_BYTES
    members: int = MAX_MEMBERS


DEFAULT_LIMITS = BundleLimits()


class BundleRef(CamelModel):
    """Where a run's bundle is and which bytes it must be (the runner protocol carries it as is).

    `sha256` is the source digest of a run: history records it as `sha256:<hex>` (source_digest).
    """

    url: str = Field(min_length=1, pattern=r"^(https?://|file:///)")  # pre-signed GET, or a packed folder
    sha256: str = Field(pattern=SHA256_RE.pattern)
    size_bytes: int = Field(ge=0)

    @property
    def source_digest(self) -> str:
        return f"sha256:{self.sha256}"


def bundle_digest(data: bytes | Path) -> str:
    """The sha256 (64 hex digits) of an archive's bytes, or of a file's."""
    digest = hashlib.sha256()
    if isinstance(data, Path):
        with data.open("rb") as handle:
            while block := handle.read(_CHUNK):
                digest.update(block)
    else:
        digest.update(data)
    return digest.hexdigest()


# -- reading an archive --------------------------------------------------------------------------


def _member_path(member: tarfile.TarInfo) -> PurePosixPath | None:
    """The member's relative path, None for the archive root ('.'); UnsafeArchiveError when it escapes."""
    name = member.name
    pure = PurePosixPath(name)
    if "\x00" in name or pure.is_absolute() or name.startswith(("/", "\\")) or ".." in pure.parts:
        raise UnsafeArchiveError(f"unsafe scenario bundle: member '{name}' escapes the scenario folder")
    parts = [part for part in pure.parts if part != "."]
    if parts and ":" in parts[0]:
        raise UnsafeArchiveError(f"unsafe scenario bundle: member '{name}' escapes the scenario folder")
    return PurePosixPath(*parts) if parts else None


def _check_kind(member: tarfile.TarInfo) -> None:
    if member.issym() or member.islnk():
        kind = "symbolic link" if member.issym() else "hard link"
        raise UnsafeArchiveError(
            f"unsafe scenario bundle: '{member.name}' is a {kind} (-> '{member.linkname}'); bundles may "
            "hold only regular files and folders: copy the file instead of linking it"
        )
    if member.issparse() or not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"unsafe scenario bundle: member '{member.name}' is a device or FIFO")


class _Budget:
    def __init__(self, limits: BundleLimits) -> None:
        self.limits = limits
        self.members = 0
        self.bytes = 0

    def take(self, member: tarfile.TarInfo) -> None:
        self.members += 1
        self.bytes += max(0, member.size)
        if self.members > self.limits.members:
            raise UnsafeArchiveError(f"scenario bundle refused: more than {self.limits.members} members")
        if self.bytes > self.limits.extracted_bytes:
            raise UnsafeArchiveError(
                f"scenario bundle refused: it expands to more than {self.limits.extracted_bytes // 2**20} MiB "
                f"(member '{member.name}' brings it to {self.bytes} bytes)"
            )


def _write_file(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    source = tar.extractfile(member)
    if source is None:  # pragma: no cover - regular files always have data
        raise UnsafeArchiveError(f"unsafe scenario bundle: member '{member.name}' has no data")
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = 0o755 if member.mode & 0o111 else 0o644
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    except FileExistsError:
        raise UnsafeArchiveError(f"unsafe scenario bundle: member '{member.name}' appears twice") from None
    with os.fdopen(fd, "wb") as out:
        while block := source.read(_CHUNK):
            out.write(block)


def extract_bundle(data: bytes, dest: Path, limits: BundleLimits = DEFAULT_LIMITS) -> None:
    """Extract an archive's regular files and folders into `dest` (which must exist and be empty).

    One streaming pass: a refused member stops the extraction and `dest` is emptied again, so a
    refused bundle leaves nothing behind.
    """
    dest = dest.resolve()
    try:
        # Every header within its bounds first (tar_scan.py): tarfile never sees an oversized one.
        scan(data, max_members=limits.members, max_expanded=limits.extracted_bytes)
    except ArchiveRefused as exc:
        raise UnsafeArchiveError(exc.message) from None
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as tar:
            budget = _Budget(limits)
            for member in tar:
                budget.take(member)
                rel = _member_path(member)
                _check_kind(member)
                if rel is None:
                    continue
                target = dest / rel
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                else:
                    _write_file(tar, member, target)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, OSError, UnsafeArchiveError) as exc:
        _empty(dest)
        if isinstance(exc, UnsafeArchiveError):
            raise
        raise ValidationError(f"scenario bundle is not a readable .tar.gz: {exc}") from None


def _empty(folder: Path) -> None:
    for entry in list(folder.iterdir()) if folder.is_dir() else []:
        if entry.is_dir() and not entry.is_symlink():
            remove_tree(entry)
        else:
            entry.unlink(missing_ok=True)


def remove_tree(path: Path) -> None:
    """rmtree that also removes what a scenario made read-only (chmod 000 folders included)."""

    def make_writable(func: Callable[[str], object], failed: str, *_exc: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(failed) or ".", 0o700)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, 0o700)
                shutil.rmtree(failed, ignore_errors=True)
            else:
                func(failed)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=make_writable)
    else:  # pragma: no cover - Python 3.11
        shutil.rmtree(path, onerror=make_writable)


# -- making an archive ---------------------------------------------------------------------------


def _packable(folder: Path, skip: str | None = None) -> Iterator[tuple[Path, str]]:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in SKIP_DIRS for part in rel.parts) or path.is_symlink():
            continue
        if skip and (rel.as_posix() == skip or rel.as_posix().startswith(skip + "/")):
            continue
        if path.is_dir() or path.is_file():
            yield path, rel.as_posix()


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Same files -> same bytes -> same digest: no owners, no times.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o755 if info.isdir() or info.mode & 0o111 else 0o644
    return info


def pack_folder(folder: Path, extra: Mapping[str, Path] | None = None, skip: str | None = None) -> bytes:
    """A reproducible .tar.gz of a folder's regular files and folders (links and caches left out).

    `extra` maps archive folder names to local folders added under them (vendored dependencies);
    `skip` is a relative path of `folder` left out (the stale vendored copy those replace).
    """
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path, arcname in _packable(folder, skip):
            tar.add(path, arcname=arcname, recursive=False, filter=_normalise)
        for prefix, root in (extra or {}).items():
            tar.add(root, arcname=prefix, recursive=False, filter=_normalise)
            for path, arcname in _packable(root):
                tar.add(path, arcname=f"{prefix}/{arcname}", recursive=False, filter=_normalise)
    return buffer.getvalue()


# -- the runner's cache ----------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """TESTGENIE_BUNDLE_CACHE (the local runner sets a folder of the runner user), else /tmp/testgenie/bundles."""
    configured = os.environ.get("TESTGENIE_BUNDLE_CACHE", "").strip()
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "testgenie" / "bundles"


def _download(url: str, limit: int) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 - http(s)/file only (BundleRef)
            data: bytes = response.read(limit + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise BundleFetchError(f"scenario bundle could not be fetched: {exc}") from None
    if len(data) > limit:
        raise BundleFetchError(f"scenario bundle is larger than {limit} bytes")
    return data


class BundleCache:
    """Archives by digest. What is returned is always bytes whose sha256 was just checked."""

    def __init__(
        self, root: Path | None = None, limits: BundleLimits = DEFAULT_LIMITS, keep: int = 16
    ) -> None:
        self.root = root or default_cache_dir()
        self.limits = limits
        self.keep = keep
        self.downloads = 0
        self._lock = threading.Lock()

    def _path(self, ref: BundleRef) -> Path:
        return self.root / f"{ref.sha256}.tar.gz"

    def archive(self, ref: BundleRef) -> bytes:
        """The bundle's bytes: from the cache when they still match the digest, else downloaded.

        The bytes returned are the ones hashed (read once into memory), so nothing can swap the
        file between the check and the extraction.
        """
        path = self._path(ref)
        with contextlib.suppress(OSError):
            data = path.read_bytes()
            if bundle_digest(data) == ref.sha256:
                return data
        with self._lock:
            cap = self.limits.archive_bytes
            data = _download(ref.url, ref.size_bytes if 0 < ref.size_bytes < cap else cap)
            self.downloads += 1
            if bundle_digest(data) != ref.sha256:
                raise BundleFetchError(
                    "scenario bundle does not match its digest sha256:"
                    f"{ref.sha256[:12]}…: it changed after the run was planned; queue the run again"
                )
            self._store(path, data)
        return data

    def _store(self, path: Path, data: bytes) -> None:
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs a download
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
            self._evict(keep=path)

    def _evict(self, keep: Path) -> None:
        archives = sorted(self.root.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in archives[self.keep :]:
            if old != keep:
                old.unlink(missing_ok=True)


def safe_extract(archive: Path, dest: Path, limits: BundleLimits = DEFAULT_LIMITS) -> None:
    """Extract a bundle file into an empty folder (see extract_bundle for what is refused)."""
    if archive.stat().st_size > limits.archive_bytes:
        raise ValidationError(f"scenario bundle {archive.name} is larger than {limits.archive_bytes} bytes")
    extract_bundle(archive.read_bytes(), dest, limits)
