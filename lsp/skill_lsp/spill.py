"""An append-only temporary file for the bytes an index keeps out of memory."""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass


class TextSpill:
    """Where an index keeps the compressed texts of the documents no editor has open (and the
    router its records of them): an unlinked temporary file, only ever appended to, read back with
    pread. Held in memory the texts were the largest part of a big index (~100 MB at 10,000
    skills) for what is read a few times an hour.

    Our own copy, never the user's file: a document's text stays what it was parsed from, whatever
    happens on disk meanwhile. When the file cannot be made or written (no temporary folder, a
    full disk), texts simply stay in memory.
    """

    __slots__ = ("_file", "_size", "_lock", "_failed")

    def __init__(self) -> None:
        self._file: tempfile._TemporaryFileWrapper | None = None  # type: ignore[type-arg]
        self._size = 0
        self._lock = threading.Lock()
        self._failed = False

    def put(self, data: bytes) -> Spilled | bytes:
        """Where `data` now is: in the file, or (it could not be written) still `data`."""
        if self._failed:
            return data
        with self._lock:
            try:
                if self._file is None:
                    self._file = tempfile.TemporaryFile(prefix="skill-lsp-texts-")  # noqa: SIM115 - the index's lifetime
                fd, at, view = self._file.fileno(), self._size, memoryview(data)
                while view:  # pwrite may write less than asked
                    view = view[os.pwrite(fd, view, at + len(data) - len(view)):]
            except (OSError, AttributeError):  # (AttributeError: no os.pwrite on this system)
                self._failed = True
                return data
            self._size += len(data)
        return Spilled(self, at, len(data))

    def get(self, offset: int, length: int) -> bytes:
        assert self._file is not None
        data = os.pread(self._file.fileno(), length, offset)
        if len(data) != length:
            raise OSError(f"skill-lsp: temporary text store cut short at {offset}")
        return data


@dataclass(frozen=True, slots=True)
class Spilled:
    """A compressed text in a TextSpill."""

    spill: TextSpill
    offset: int
    length: int

    def read(self) -> bytes:
        return self.spill.get(self.offset, self.length)


def load(where: Spilled | bytes) -> bytes:
    """The bytes `TextSpill.put` was given, wherever it left them."""
    return where if isinstance(where, bytes) else where.read()
