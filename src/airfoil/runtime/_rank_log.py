"""A training rank's log, copied to the blob store while the rank runs.

Both gang launchers send a rank's stdout and stderr to one regular file (the process gang: a
file per rank in the gang's folder; Ray: a temporary file inside the rank actor's call). A
:class:`RankLogShipper` started by the rank itself opens that file again for reading (through
``/proc/self/fd``: Linux, where ranks run; elsewhere nothing is shipped live and the supervisor
writes the log at the gang's end, as before) and appends what is new to the rank's log blob
every :data:`SHIP_EVERY_S` seconds: whole lines only while the rank runs, the rest when it
ends, each piece scrubbed of the attempt's secrets. So ``airfoil logs EXEC NODE --rank R -f``
shows a long training's ranks as they go, not only once the gang has ended.

The gang start's first piece opens with :func:`gang_start_line`. When the gang ends, the
supervising attempt appends only what its rank did not ship itself (a rank killed between two
copies, or one whose output was not a file): see :func:`unshipped`.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
import time

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import NotFoundError
from airfoil.sdk._context import scrub

__all__ = ["SHIP_EVERY_S", "RankLogShipper", "gang_start_line", "unshipped"]

#: How often a running rank's new output is appended to its log blob.
SHIP_EVERY_S = 1.0

_READ = 1 << 20


def gang_start_line(restart: int, where: str) -> str:
    """The line that opens a gang start's part of a rank log."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return f"--- gang start {restart} on {where} ({stamp}) ---\n"


def _marker(restart: int) -> str:
    return f"--- gang start {restart} on "


class RankLogShipper:
    """Appends what this process writes to its stdout and stderr to ``key`` while it runs.

    Use :meth:`start` (None when the output is not a regular file: nothing to read back) and
    :meth:`close` when the rank's code has returned or raised.
    """

    def __init__(
        self,
        blobs: BlobStore,
        key: str,
        fd: int,
        header: str,
        secrets: tuple[str, ...],
        every: float,
    ) -> None:
        self._blobs, self._key, self._fd = blobs, key, fd
        self._header, self._secrets, self._every = header, secrets, every
        self._offset = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="airfoil-rank-log", daemon=True)

    @classmethod
    def start(
        cls,
        blobs: BlobStore,
        key: str,
        header: str,
        secrets: tuple[str, ...] = (),
        every: float = SHIP_EVERY_S,
    ) -> RankLogShipper | None:
        try:  # the file behind fd 1, opened again for reading (the rank's fd is write-only)
            fd = os.open("/proc/self/fd/1", os.O_RDONLY)
        except OSError:
            return None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        shipper = cls(blobs, key, fd, header, secrets, every)
        shipper._thread.start()
        return shipper

    def close(self) -> None:
        """Copy what is left (a last line without its newline too) and stop."""
        self._stop.set()
        self._thread.join(timeout=10)
        try:
            self._ship(final=True)
        finally:
            os.close(self._fd)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            self._ship(final=False)

    def _ship(self, *, final: bool) -> None:
        with self._lock:
            for stream in (sys.stdout, sys.stderr):  # Python buffers a file's writes
                with contextlib.suppress(Exception):
                    stream.flush()
            parts = []
            at = self._offset
            while True:
                try:
                    data = os.pread(self._fd, _READ, at)
                except OSError:
                    break
                if not data:
                    break
                parts.append(data)
                at += len(data)
            new = b"".join(parts)
            if not final:
                new = new[: new.rfind(b"\n") + 1]  # whole lines while the rank writes on
            if not new and (self._header == "" or not final):
                return
            text = self._header + scrub(new.decode("utf-8", "replace"), self._secrets)
            try:
                self._blobs.append_text(self._key, text)
            except Exception:  # a log is best effort: the rank's work goes on
                return
            self._header = ""
            self._offset += len(new)


def unshipped(blobs: BlobStore, key: str, restart: int, text: str) -> str | None:
    """What of a gang start's whole rank log ``text`` (scrubbed) its rank did not append to
    ``key`` itself: None when it appended nothing for this start (the caller writes the whole
    part, opening line included), else the missing tail ("" when there is none)."""
    try:
        existing = blobs.get_bytes(blobs.uri(key)).decode("utf-8", "replace")
    except NotFoundError:
        return None
    at = existing.rfind(_marker(restart))
    if at < 0:
        return None
    newline = existing.find("\n", at)
    shipped = "" if newline < 0 else existing[newline + 1 :]
    if text.startswith(shipped):
        return text[len(shipped) :]
    return ""  # the rank's own copy differs (it is what was seen live): keep it as it is
