"""A user's own type, with a converter added once, end to end: a workflow called as a function
(inline executor), driven on worker processes, and registered, launched and fetched over the
API -- the same converter reaches ``@task`` interfaces, the workers, the server and the client.

The user's code lives in two modules under ``tmp_path`` (the converter in ``money_codecs``,
the tasks in ``money_flow``, which does not add the converter itself): workers only know the
converter because the process that built their executor hands it on.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _srv import start_server

from airfoil.local import LocalRuntime, convert_inputs, decode_outputs, spec_of
from airfoil.settings import AirfoilSettings
from airfoil.types import _plugins, add_converter

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CODECS = textwrap.dedent(
    """
    from typing import Any

    from airfoil.core.records import TypeSpec
    from airfoil.types import ConversionError, Converter, Handler, TypeEngine, ValueContext


    class Money:
        # A plain class (not a dataclass): without a converter it would be pickled.
        def __init__(self, cents: int, currency: str) -> None:
            self.cents, self.currency = cents, currency

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Money) and (self.cents, self.currency) == (
                other.cents, other.currency
            )

        def __repr__(self) -> str:
            return f"Money({self.cents}, {self.currency!r})"


    class MoneyHandler(Handler):
        classes = (Money,)

        def __init__(self) -> None:
            super().__init__(TypeSpec("money", name="money_codecs.Money"))

        def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
            if not isinstance(obj, Money):
                raise ConversionError(f"expected Money, got {type(obj).__name__}")
            return f"{obj.cents} {obj.currency}"

        def decode(self, data: Any, ctx: ValueContext | None) -> Any:
            cents, currency = data.split()
            return Money(int(cents), currency)


    class MoneyConverter(Converter):
        def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
            return MoneyHandler() if py_type is Money else None
    """
)

FLOW = textwrap.dedent(
    """
    import os

    import airfoil as af
    from money_codecs import Money


    @af.task
    def add_tax(price: Money, rate: float) -> Money:
        print("worker", os.getpid())
        return Money(round(price.cents * (1 + rate)), price.currency)


    @af.workflow
    def checkout(price: Money, rate: float = 0.2) -> Money:
        return add_tax(price=price, rate=rate)
    """
)


@pytest.fixture
def user_code(tmp_path: Path) -> Iterator[tuple[ModuleType, ModuleType, Path]]:
    code = tmp_path / f"proj_{uuid.uuid4().hex[:6]}"
    code.mkdir()
    (code / "money_codecs.py").write_text(CODECS)
    (code / "money_flow.py").write_text(FLOW)
    sys.path.insert(0, str(code))
    for name in ("money_codecs", "money_flow"):
        sys.modules.pop(name, None)
    kept = _plugins.added_converters()  # what modules imported earlier added
    _plugins._reset_for_tests()
    try:
        codecs = importlib.import_module("money_codecs")
        # What a user writes once, before defining tasks that use the type.
        add_converter(codecs.MoneyConverter())
        flow = importlib.import_module("money_flow")
        yield codecs, flow, code
    finally:
        _plugins._reset_for_tests()
        _plugins.load_converters(kept)
        sys.path.remove(str(code))
        for name in ("money_codecs", "money_flow"):
            sys.modules.pop(name, None)


def test_the_interface_uses_the_converter_not_pickle(user_code: Any) -> None:
    _codecs, flow, _code = user_code
    param = flow.add_tax.spec.interface.input("price")
    spec = param.type
    assert (spec.kind, spec.name) == ("money", "money_codecs.Money")


def test_a_workflow_called_as_a_function_on_the_inline_executor(user_code: Any) -> None:
    codecs, flow, _code = user_code
    assert flow.checkout(price=codecs.Money(1000, "EUR")) == codecs.Money(1200, "EUR")


def test_a_workflow_driven_on_worker_processes(user_code: Any) -> None:
    codecs, flow, code = user_code
    rt = LocalRuntime(AirfoilSettings(executor="process", max_parallel=1))
    try:
        engine = rt.engine()
        values = convert_inputs(flow.checkout, {"price": codecs.Money(250, "USD")}, rt)
        assert values["price"].format != "pickle"
        record = engine.launch(spec_of(flow.checkout), values, code_root=str(code))
        record = engine.drive(record.id)
        assert record.phase == "succeeded", record.error
        assert decode_outputs(flow.checkout, record, rt) == codecs.Money(300, "USD")
        (attempt,) = rt.meta.get_attempts(record.id)
        assert attempt.worker.endswith(":worker")  # it really ran in a worker process
    finally:
        rt.close()


def test_registered_launched_and_fetched_over_the_api(
    user_code: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airfoil.client import Client

    codecs, flow, _code = user_code
    monkeypatch.setenv("AIRFOIL_PACKAGE_CACHE", str(tmp_path / "packages"))
    running = start_server(tmp_path / "server-home", None)
    try:
        with Client(running.url, project=f"p{uuid.uuid4().hex[:6]}") as client:
            client.register([flow.checkout])
            ex = client.launch(flow.checkout, {"price": codecs.Money(999, "GBP"), "rate": 0.1})
            detail = client.wait(ex.id, timeout=90)
            assert detail.phase == "succeeded", detail.error
            assert client.outputs(ex.id, flow.checkout) == codecs.Money(1099, "GBP")
    finally:
        running.stop()


def test_a_converter_other_processes_cannot_rebuild_is_refused() -> None:
    from airfoil.core.errors import ConfigError
    from airfoil.types import Converter, Handler, TypeEngine

    class Local(Converter):
        def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
            return None

    with pytest.raises(ConfigError, match="inside a function"):
        add_converter(Local())
    with pytest.raises(ConfigError, match="module:name"):
        add_converter("no_colon")
    with pytest.raises(ConfigError, match="cannot import converter module"):
        add_converter("no_such_module_xyz:Conv")
