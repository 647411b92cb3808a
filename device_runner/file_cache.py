"""A content-addressed file cache on the runner host: files by SHA-256, verified, resumable.

A runner on another machine fetches a model or an artifact by its hash into
``<root>/<aa>/<sha256>``. The bytes land in ``<root>/partial/<sha256>`` first;
a dropped connection keeps what arrived and the next attempt asks for the
rest (``Range: bytes=N-``); only a file that hashes to its name is moved into
place, so a corrupted transfer is detected, thrown away and fetched again.
``clean`` removes the least recently used files until the cache fits.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
RETRY_PAUSE_SECONDS = 0.5


class TransferError(OSError):
    """The transfer stopped part way (connection dropped, server restarting)."""


class CacheError(RuntimeError):
    """A file could not be fetched intact after every attempt."""


# A source answers (start offset it honoured, chunks from there) for a hash and an offset.
Source = Callable[[str, int], tuple[int, Iterable[bytes]]]


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a local file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class FileCache:
    """Files named by their SHA-256 under one directory.

    Attributes:
        root: the cache directory (created when missing).
        attempts: transfers tried per file before giving up.
    """

    def __init__(self, root: Path | str, attempts: int = 4) -> None:
        self.root = Path(root)
        self.attempts = attempts
        (self.root / "partial").mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def get(self, sha256: str, source: Source) -> Path:
        """The local path of the file with this hash, fetched from ``source`` when missing.

        Raises:
            CacheError: every attempt failed or delivered bytes with another hash.
        """
        final = self.path_for(sha256)
        if final.is_file():
            os.utime(final)  # recently used: the last to be cleaned
            return final
        partial = self.root / "partial" / sha256
        with partial.open("ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # one fetch per file on this host
            if final.is_file():
                return final
            self._fetch(sha256, source, handle, partial, final)
        return final

    def _fetch(self, sha256: str, source: Source, handle, partial: Path, final: Path) -> None:
        problems = []
        for attempt in range(1, self.attempts + 1):
            try:
                self._transfer(sha256, source, handle)
            except (TransferError, OSError) as exc:
                problems.append(f"attempt {attempt}: {exc}")
                log.warning("fetching %s: %s; resuming", sha256[:12], exc)
                time.sleep(RETRY_PAUSE_SECONDS)
                continue
            got = file_sha256(partial)
            if got == sha256:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(partial, final)
                return
            problems.append(f"attempt {attempt}: the bytes hash to {got}")
            log.warning("fetching %s: checksum mismatch (%s); fetching again", sha256[:12], got)
            handle.truncate(0)
        handle.truncate(0)
        raise CacheError(f"Could not fetch {sha256} intact: " + "; ".join(problems))

    def _transfer(self, sha256: str, source: Source, handle) -> None:
        handle.seek(0, os.SEEK_END)
        have = handle.tell()
        start, chunks = source(sha256, have)
        if start != have:  # the source started elsewhere (no Range support): start over
            handle.truncate(start)
            handle.seek(start)
        for chunk in chunks:
            handle.write(chunk)
        handle.flush()

    def put(self, path: Path) -> str:
        """Add a local file (one this host produced); returns its hash."""
        sha256 = file_sha256(path)
        final = self.path_for(sha256)
        if not final.is_file():
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.root / "partial" / f"{sha256}.{os.getpid()}"
            tmp.write_bytes(path.read_bytes())
            os.replace(tmp, final)
        return sha256

    def files(self) -> Iterator[Path]:
        """Every complete file in the cache."""
        for path in self.root.glob("??/*"):
            if path.is_file():
                yield path

    def size(self) -> int:
        """Bytes the complete files take."""
        return sum(path.stat().st_size for path in self.files())

    def clean(self, max_bytes: int, keep: Iterable[str] = ()) -> list[str]:
        """Remove the least recently used files until the cache holds at most ``max_bytes``.

        Args:
            max_bytes: the size to get under.
            keep: hashes in use right now, never removed.

        Returns:
            The hashes removed.
        """
        keep = set(keep)
        entries = sorted(self.files(), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in entries)
        removed = []
        for path in entries:
            if total <= max_bytes:
                break
            if path.name in keep:
                continue
            total -= path.stat().st_size
            path.unlink(missing_ok=True)
            removed.append(path.name)
        return removed
