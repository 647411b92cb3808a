"""The runner host's file cache: verified by hash, resumed after a drop, cleaned by size.

The source here serves real bytes from memory and can drop the connection
part way or corrupt what it sends, the two faults a network transfer has;
the HTTP source against a real server is exercised in test_queue_client.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from device_runner.file_cache import CacheError, FileCache, TransferError

DATA = os.urandom(300_000)
SHA = hashlib.sha256(DATA).hexdigest()


class Server:
    """Serves DATA by offset; ``drops`` cut transfers short, ``corrupt`` flips a byte."""

    def __init__(self, drops: int = 0, corrupt: int = 0, honours_range: bool = True) -> None:
        self.drops, self.corrupt, self.honours_range = drops, corrupt, honours_range
        self.offsets: list[int] = []

    def __call__(self, sha256: str, offset: int):
        assert sha256 == SHA
        self.offsets.append(offset)
        start = offset if self.honours_range else 0
        body = DATA[start:]
        if self.corrupt:
            self.corrupt -= 1
            body = body[:10] + bytes([body[10] ^ 0xFF]) + body[11:]
        return start, self._chunks(body)

    def _chunks(self, body: bytes):
        for index in range(0, len(body), 64_000):
            if self.drops and index >= 100_000:
                self.drops -= 1
                raise TransferError("connection reset by peer")
            yield body[index : index + 64_000]


def test_it_fetches_a_file_once_and_serves_it_from_the_cache(tmp_path):
    cache, server = FileCache(tmp_path), Server()

    first = cache.get(SHA, server)
    second = cache.get(SHA, server)

    assert first == second == tmp_path / SHA[:2] / SHA
    assert first.read_bytes() == DATA
    assert server.offsets == [0]


def test_it_resumes_a_dropped_transfer_from_where_it_stopped(tmp_path):
    cache, server = FileCache(tmp_path), Server(drops=2)

    path = cache.get(SHA, server)

    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA
    assert server.offsets[0] == 0
    assert server.offsets[1] > 0 and server.offsets[2] > server.offsets[1]
    assert not (tmp_path / "partial" / SHA).exists()


def test_it_detects_corrupted_bytes_and_fetches_them_again(tmp_path):
    cache, server = FileCache(tmp_path), Server(corrupt=1)

    path = cache.get(SHA, server)

    assert path.read_bytes() == DATA
    assert server.offsets == [0, 0]  # the corrupted copy was thrown away, not resumed


def test_it_starts_over_when_the_source_ignores_the_range(tmp_path):
    cache, server = FileCache(tmp_path), Server(drops=1, honours_range=False)

    assert cache.get(SHA, server).read_bytes() == DATA
    assert server.offsets[1] > 0  # asked to resume, was answered from the start


def test_it_gives_up_naming_every_attempt_when_the_bytes_never_match(tmp_path):
    cache, server = FileCache(tmp_path, attempts=3), Server(corrupt=10)

    with pytest.raises(CacheError, match="attempt 3: the bytes hash to"):
        cache.get(SHA, server)
    assert not cache.path_for(SHA).exists()


def test_it_cleans_the_least_recently_used_files_down_to_a_size(tmp_path):
    cache = FileCache(tmp_path)
    hashes = []
    for index in range(4):
        source = tmp_path / f"f{index}"
        source.write_bytes(bytes([index]) * 1000)
        hashes.append(cache.put(source))
        os.utime(cache.path_for(hashes[-1]), (1000 + index, 1000 + index))
    os.utime(cache.path_for(hashes[0]), (5000, 5000))  # used last

    removed = cache.clean(2000, keep=[hashes[1]])

    assert removed == [hashes[2], hashes[3]]
    assert cache.size() == 2000
    assert {p.name for p in cache.files()} == {hashes[0], hashes[1]}
