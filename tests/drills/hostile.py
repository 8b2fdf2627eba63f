"""Hostile bundles the drills and the e2e tests share."""

from __future__ import annotations

import gzip
import io
import tarfile
from typing import Any


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = b"\0" * n
        self.left -= n
        return n


def zip_bomb(expanded: int = 200 * 1024 * 1024) -> bytes:
    """A .tar.gz of one file of zeros: about 199 KiB that expands to `expanded` bytes."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        info = tarfile.TarInfo("zeros.bin")
        info.size = expanded
        tar.addfile(info, io.BufferedReader(_Zeros(expanded)))
    return buffer.getvalue()
