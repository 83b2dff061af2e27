"""The engine asks its executor where each resource-asking attempt would best run, with the
attempt's own inputs (a plain node's, and each map item's), before queueing it: what the ray
executor answers from its nodes' blob caches. A queue over one machine ignores the answer."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from airfoil.core.records import Value
from airfoil.executors.base import DelegatingExecutor, Executor
from airfoil.local import LocalRuntime
from airfoil.settings import AirfoilSettings
from airfoil.types import ValueContext

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import _locality_flow  # noqa: E402


class Asked(DelegatingExecutor):
    """Records the inputs it is asked about; prefers a node this machine does not have."""

    def __init__(self, inner: Executor) -> None:
        super().__init__(inner)
        self.asked: list[dict[str, Value]] = []

    def preferred_nodes(self, inputs: dict[str, Value]) -> tuple[str, ...]:
        self.asked.append(dict(inputs))
        return ("a-node-elsewhere",)


def test_each_attempt_is_queued_with_the_nodes_its_inputs_prefer(tmp_path: Path) -> None:
    rt = LocalRuntime(AirfoilSettings(home=str(tmp_path / "home"), executor="inline"))
    try:
        ex = Asked(rt.new_executor())
        engine = rt.engine(ex)
        ctx = ValueContext(blobs=rt.blobs)
        data, items = b"x" * 5000, [b"a" * 3000, b"b" * 4000]
        inputs = {
            "data": rt.types.to_value(data, bytes, ctx),
            "items": rt.types.to_value(items, list[bytes], ctx),
        }
        eid = engine.launch(_locality_flow.wf.spec, inputs, code_root=str(HERE)).id
        record = engine.drive(eid)
        assert record.phase == "succeeded", record
        asked = sorted(rt.types.to_python(v["data"], bytes, ctx) for v in ex.asked)
        assert asked == sorted([data, *items])  # `total` asks for nothing: never asked
        ex.close()
    finally:
        rt.close()
