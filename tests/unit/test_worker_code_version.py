"""The worker's best-effort record of a cached task's code version never swallows the
attempt's own timeout (its timer fires wherever the attempt is, this step included)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from airfoil.core.errors import TaskTimeoutError
from airfoil.runtime import worker

pytestmark = pytest.mark.unit

_SPEC = SimpleNamespace(cache=SimpleNamespace(enabled=True, version=""), version="v1")


class _Version:
    def __init__(self, error: BaseException | None, value: str = "v1") -> None:
        self.error, self.value = error, value

    @property
    def version(self) -> str:
        if self.error is not None:
            raise self.error
        return self.value


def _task(error: BaseException | None = None, value: str = "v1") -> Any:
    return SimpleNamespace(spec=_Version(error, value))


def test_a_timeout_while_computing_the_version_stops_the_attempt() -> None:
    timeout = TaskTimeoutError("the attempt ran past its timeout of 1s")
    with pytest.raises(TaskTimeoutError):
        worker._record_code_version(_task(timeout), _SPEC, blobs=None)  # type: ignore[arg-type]
    # any other error is best effort: explain loses its diff, the attempt runs
    assert worker._record_code_version(_task(ValueError("x")), _SPEC, None) == ""  # type: ignore[arg-type]
    assert worker._record_code_version(_task(value="v2"), _SPEC, None) == "v2"  # type: ignore[arg-type]


def test_a_timeout_while_saving_the_manifest_stops_the_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def saving(*_a: Any) -> None:
        raise TaskTimeoutError("the attempt ran past its timeout of 1s")

    monkeypatch.setattr(worker, "save_manifests", saving)
    with pytest.raises(TaskTimeoutError):
        worker._record_code_version(_task(), _SPEC, blobs=None)  # type: ignore[arg-type]
    monkeypatch.setattr(worker, "save_manifests", lambda *_a: 1 / 0)
    assert worker._record_code_version(_task(), _SPEC, None) == ""  # type: ignore[arg-type]
