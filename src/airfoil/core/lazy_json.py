"""A ``msgspec.json.Decoder`` built on its first use.

Building a decoder for a struct resolves the type hints of every struct it reaches (msgspec
compiles each string annotation, ``from __future__ import annotations``): ~113 of them for
``LaunchPlanSpec`` alone. Built at import, the store's ~15 decoders cost every process that
imports the store, `airfoil run` included, though a plain run decodes none of them (issue
17's W5: ~4% of the whole process's instructions). Built on first use, only what is read
pays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import msgspec

__all__ = ["LazyDecoder"]

T = TypeVar("T")

Buffer = bytes | bytearray | memoryview | str


class LazyDecoder(Generic[T]):
    """``LazyDecoder(T).decode(buf)`` is ``msgspec.json.Decoder(T).decode(buf)``, the decoder
    built at the first call. After it, ``decode`` is the decoder's own bound method (no extra
    call a row); a ``decode`` taken before the first call stays correct, one call deeper."""

    __slots__ = ("_decoder", "_type", "decode")

    def __init__(self, type_: type[T]) -> None:
        self._type = type_
        self._decoder: msgspec.json.Decoder[T] | None = None
        self.decode: Callable[[Buffer], T] = self._first_decode

    def _first_decode(self, buf: Buffer) -> T:
        decoder = self._decoder
        if decoder is None:  # two threads may both build one: equal, and either will do
            decoder = self._decoder = msgspec.json.Decoder(self._type)
            self.decode = decoder.decode
        return decoder.decode(buf)
