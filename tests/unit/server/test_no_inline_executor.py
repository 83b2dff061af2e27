"""A server never runs user code in its own processes (DESIGN, Layers): ``ServerConfig``
refuses the ``inline`` executor, which would run tasks in the server's engine process, with
a typed error naming the fix; ``airfoil server start`` agrees (``--executor inline`` is the
same error; ``AIRFOIL_EXECUTOR=inline``, a local run's setting, runs ``process`` workers and
says so: tests/e2e/test_server_cli.py). On main ``ServerConfig(executor="inline")`` was
accepted and drove tasks inline, and ``--executor inline`` was passed on to it."""

from __future__ import annotations

import pytest

from airfoil.core.errors import ConfigError
from airfoil.server._config import ServerConfig, server_settings

pytestmark = pytest.mark.unit


def test_server_config_refuses_the_inline_executor() -> None:
    with pytest.raises(ConfigError, match="does not run the 'inline' executor") as caught:
        ServerConfig(home="h", executor="inline")
    assert "use the 'process' executor" in str(caught.value)
    assert server_settings(ServerConfig(home="h")).executor == "process"
