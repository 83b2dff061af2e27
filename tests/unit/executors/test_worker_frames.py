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


def test_the_request_decoder_reads_each_request_as_the_plain_decoder_does() -> None:
    # The worker decodes each distinct task spec once and reuses it: every other field is
    # the request's own, a changed spec is decoded afresh, and a bad task is an error.
    import msgspec

    from airfoil.core.records import Interface, ResourceSpec, TaskSpec, Value
    from airfoil.executors._process_worker import RequestDecoder
    from airfoil.executors.base import AttemptRequest

    def spec(mem: int) -> TaskSpec:
        return TaskSpec(
            name="m.t", version="1", interface=Interface(), module="m", qualname="t",
            limits=ResourceSpec(mem=mem), environment={"A": "1"},
        )  # fmt: skip

    def request(node: str, task: TaskSpec, **kw: Any) -> AttemptRequest:
        value = Value(hash="h", format="json", inline=node.encode())
        return AttemptRequest("ex", node, 1, task, {"x": value}, "/blobs", **kw)

    sent = [
        request("n0", spec(0)),
        request("n1", spec(0), log_key="logs/n1", secrets={"s": "v"}, context={"k": "v"}),
        request("n2", spec(5), placement=("node-a",)),
        request("n3", spec(0), code_root="/code"),
    ]
    decoder, plain = RequestDecoder(), msgspec.msgpack.Decoder(AttemptRequest)
    got = [decoder.decode(msgspec.msgpack.encode(r)) for r in sent]
    assert got == [plain.decode(msgspec.msgpack.encode(r)) for r in sent] == sent
    assert got[0].task is got[1].task is got[3].task and got[2].task.limits.mem == 5
    fields = msgspec.to_builtins(sent[0], builtin_types=(bytes,))
    bad = msgspec.msgpack.encode({**fields, "task": {"name": 3}})
    with pytest.raises(msgspec.MsgspecError, match=r"\$\.task\.name"):  # no str
        decoder.decode(bad)


def test_send_frame_writes_what_recv_bytes_reads_with_its_buffer_reused(
    pair: tuple[Worker, Connection],
) -> None:
    """``send_frame`` (each end's own framing, one ``write``) makes ``send_bytes``' frames:
    a small message after a larger one in the same buffer comes out alone, and a message
    larger than the pipe holds arrives whole (written from another thread as it drains)."""
    import msgspec

    from airfoil.executors._process_worker import send_frame

    w, worker_end = pair
    enc = msgspec.msgpack.Encoder()
    buf = bytearray()
    for message in ({"a": "x" * 1000}, [1, 2], "small"):
        send_frame(w.conn.fileno(), enc, message, buf)
        assert msgspec.msgpack.decode(worker_end.recv_bytes()) == message
    big = os.urandom(3_000_000)
    sender = threading.Thread(target=send_frame, args=(w.conn.fileno(), enc, big, buf))
    sender.start()
    assert msgspec.msgpack.decode(worker_end.recv_bytes()) == big
    sender.join()
    assert len(buf) == 0  # a large frame's memory is let go
