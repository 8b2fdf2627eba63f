"""A bounded reader of a bundle's tar headers, written for untrusted bytes (no `tarfile`).

`tarfile` parses pax headers in time that grows with the square of their size (CVE-2024-6232,
fixed in 3.11.10, 3.12.6 and 3.13): a 162-byte bundle holding a 64 KiB pax header froze a stack
for seconds. This reader caps every extended header (pax, GNU long names) at MAX_HEADER_BYTES, the
member count and the expanded size before anything else looks at the archive, and reads pax records
in one linear pass. The coordinator plans from what it returns (only `.testgenie/testing.json` and
the phase scripts), so it never hands scenario bytes to `tarfile`; the runner calls scan() before
its own extraction (docs/scenarios.md, "Bundles").
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from testgenie.errors import ValidationError

BLOCK = 512
# Long enough for any path a real bundle holds (PATH_MAX is 4096) and its pax records.
MAX_HEADER_BYTES = 8192
MAX_PLANNING_FILE_BYTES = 1024 * 1024
_EXTENDED = {b"x", b"g", b"L", b"K"}
_REGULAR = {b"0", b"\0", b"7"}


class ArchiveRefused(ValidationError):
    """Not a readable .tar(.gz), or beyond a bound (the message says which)."""


@dataclass
class Scan:
    members: int = 0
    expanded: int = 0
    files: dict[str, bytes] = field(default_factory=dict)  # the wanted regular files
    roots: set[str] = field(default_factory=set)  # first path components (at most a few kept)


class _Capped:
    """The archive's decompressed bytes, never more than `cap` in all."""

    def __init__(self, data: bytes, cap: int) -> None:
        compressed = data[:2] == b"\x1f\x8b"
        self._stream: gzip.GzipFile | io.BytesIO = (
            gzip.GzipFile(fileobj=io.BytesIO(data)) if compressed else io.BytesIO(data)
        )
        self.left = cap

    def read(self, size: int) -> bytes:
        if size > self.left:
            raise ArchiveRefused("scenario bundle refused: it expands beyond its size bound")
        try:
            chunk = self._stream.read(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise ArchiveRefused(f"scenario bundle is not a readable .tar.gz: {exc}") from None
        self.left -= len(chunk)
        if len(chunk) != size:
            raise ArchiveRefused(
                "scenario bundle is not a readable .tar.gz: it ends in the middle of a member"
            )
        return chunk

    def skip(self, size: int) -> None:
        while size > 0:
            step = min(size, 1024 * 1024)
            self.read(step)
            size -= step


def _octal(field_bytes: bytes) -> int:
    if field_bytes[:1] and field_bytes[0] & 0x80:  # GNU base-256
        return int.from_bytes(field_bytes[1:], "big")
    text = field_bytes.split(b"\0", 1)[0].strip(b" \0")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise ArchiveRefused("scenario bundle is not a readable .tar.gz: a header is damaged") from None


def _checksum_ok(header: bytes) -> bool:
    stored = _octal(header[148:156])
    unsigned = sum(header[:148]) + 8 * 32 + sum(header[156:])
    return stored == unsigned


def _pax_path(records: bytes) -> str | None:
    """The `path` of a pax extended header, in one pass ("<length> <key>=<value>\\n" records)."""
    path = None
    pos = 0
    while pos < len(records) and records[pos : pos + 1] not in (b"", b"\0"):
        space = records.find(b" ", pos, pos + 21)
        if space < 0:
            raise ArchiveRefused("scenario bundle is not a readable .tar.gz: a pax header is damaged")
        try:
            length = int(records[pos:space])
        except ValueError:
            raise ArchiveRefused(
                "scenario bundle is not a readable .tar.gz: a pax header is damaged"
            ) from None
        record = records[space + 1 : pos + length]
        if length <= space - pos or not record.endswith(b"\n") or b"=" not in record:
            raise ArchiveRefused("scenario bundle is not a readable .tar.gz: a pax header is damaged")
        key, _, value = record[:-1].partition(b"=")
        if key == b"path":
            path = value.decode("utf-8", "replace")
        pos += length
    return path


def _name(header: bytes) -> str:
    name = header[0:100].split(b"\0", 1)[0]
    if header[257:262] == b"ustar":
        prefix = header[345:500].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    return name.decode("utf-8", "replace")


def _relative(name: str) -> str:
    """`./a/b/` -> `a/b`; the archive root is ''."""
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    return "" if name == "." else name


def scan(
    data: bytes,
    *,
    max_members: int,
    max_expanded: int,
    wanted: Callable[[str], bool] = lambda _path: False,
) -> Scan:
    """Walk every header of the archive within its bounds; keep the regular files `wanted` names.

    ArchiveRefused (a ValidationError) for an extended header over MAX_HEADER_BYTES, more than
    `max_members` members, more than `max_expanded` bytes of content, or a damaged archive.
    """
    found = Scan()
    # Every member costs a header block and its padding: the stream may hold that much more.
    stream = _Capped(data, max_expanded + (max_members + 8) * 3 * BLOCK + 4 * MAX_HEADER_BYTES)
    pending: str | None = None
    while True:
        header = stream.read(BLOCK)
        if header == b"\0" * BLOCK:
            return found
        if not _checksum_ok(header):
            raise ArchiveRefused("scenario bundle is not a readable .tar.gz: a header checksum is wrong")
        kind, size = header[156:157], _octal(header[124:136])
        padded = -(-size // BLOCK) * BLOCK
        if kind in _EXTENDED:
            if size > MAX_HEADER_BYTES:
                raise ArchiveRefused(
                    f"scenario bundle refused: an extended header of {size} bytes (at most {MAX_HEADER_BYTES})"
                )
            body = stream.read(padded)[:size]
            if kind == b"x":
                pending = _pax_path(body) or pending
            elif kind == b"L":
                pending = body.split(b"\0", 1)[0].decode("utf-8", "replace")
            continue
        found.members += 1
        if found.members > max_members:
            raise ArchiveRefused(f"scenario bundle refused: more than {max_members} members")
        found.expanded += size
        if found.expanded > max_expanded:
            raise ArchiveRefused(
                f"scenario bundle refused: it expands to more than {max_expanded // 2**20} MiB"
            )
        path = _relative(pending or _name(header))
        pending = None
        if path and len(found.roots) < 4:
            found.roots.add(path.split("/", 1)[0])
        if kind in _REGULAR and path and wanted(path) and size <= MAX_PLANNING_FILE_BYTES:
            found.files[path] = stream.read(padded)[:size]
        else:
            stream.skip(padded)
