"""The process executor and its workers read each other's messages themselves (one
``read`` per message where ``Connection.recv_bytes`` makes two): every framing
``send_bytes`` can produce must come out whole and in order, and a closed or garbled pipe
must read as a dead peer, never as a wait."""

from __future__ import annotations

import multiprocessing
import os
import struct
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

import pytest

from airfoil.executors._process_pool import Worker
from airfoil.executors.process import _messages


@pytest.fixture
def pair() -> Iterator[tuple[Worker, Connection]]:
    ours, theirs = multiprocessing.Pipe(duplex=True)
    proc: Any = None  # no process: only the pipe is read
    yield Worker(proc=proc, conn=ours, pid=0), theirs
    ours.close()
    theirs.close()


def test_one_message_is_read_whole(pair: tuple[Worker, Connection]) -> None:
    w, worker_end = pair
    worker_end.send_bytes(b"result")
    assert _messages(w) == [b"result"]
    assert not w.inbox


def test_messages_sent_back_to_back_come_out_in_order(pair: tuple[Worker, Connection]) -> None:
    w, worker_end = pair
    for i in range(5):  # e.g. child calls of gathered async tasks, then a result
        worker_end.send_bytes(f"message {i}".encode())
    got: list[bytes] = []
    while len(got) < 5:
        more = _messages(w)
        assert more is not None
        got += more
    assert got == [f"message {i}".encode() for i in range(5)]
    assert not w.inbox


def test_a_message_larger_than_one_read_is_waited_for(pair: tuple[Worker, Connection]) -> None:
    w, worker_end = pair
    big = os.urandom(300_000)  # several reads, sent from another thread as the pipe fills
    sender = threading.Thread(target=worker_end.send_bytes, args=(big,))
    sender.start()
    assert _messages(w) == [big]
    sender.join()


def test_a_message_that_has_begun_to_arrive_is_kept_for_the_next_read(
    pair: tuple[Worker, Connection],
) -> None:
    w, worker_end = pair
    second = b"second message"
    frame = struct.pack("!i", len(second)) + second
    # A whole message and the first bytes of another (its header split too).
    os.write(worker_end.fileno(), struct.pack("!i", 5) + b"first" + frame[:2])
    assert _messages(w) == [b"first"]
    assert bytes(w.inbox) == frame[:2]
    os.write(worker_end.fileno(), frame[2:])
    assert _messages(w) == [second]
    assert not w.inbox


def test_a_closed_pipe_reads_as_none(pair: tuple[Worker, Connection]) -> None:
    w, worker_end = pair
    worker_end.close()
    assert _messages(w) is None


def test_a_garbled_frame_reads_as_none_instead_of_hanging(
    pair: tuple[Worker, Connection],
) -> None:
    w, worker_end = pair
    os.write(worker_end.fileno(), struct.pack("!i", -7) + b"junk")
    assert _messages(w) is None


def test_the_worker_reads_the_parents_messages_one_by_one(
    pair: tuple[Worker, Connection],
) -> None:
    from airfoil.executors._process_worker import _Frames

    parent_end, worker_end = pair[0].conn, pair[1]
    frames = _Frames(worker_end)
    for text in (b"request", b"outcome 1", b"outcome 2", b""):  # b"": the parent's stop
        parent_end.send_bytes(text)
    big = os.urandom(100_000)
    sender = threading.Thread(target=parent_end.send_bytes, args=(big,))
    sender.start()
    assert [frames.recv() for _ in range(5)] == [b"request", b"outcome 1", b"outcome 2", b"", big]
    sender.join()
    parent_end.close()
    with pytest.raises(EOFError):
        frames.recv()
