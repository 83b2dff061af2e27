"""Importing Airfoil pulls in no server packages; the wire and client stay light."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

HEAVY = ("fastapi", "uvicorn", "starlette", "prometheus_client", "sqlalchemy", "airfoil.server")


def _imported_after(statement: str) -> set[str]:
    code = (
        f"import sys; {statement}; "
        "print(','.join(sorted({m.split('.')[0] if not m.startswith('airfoil.') "
        "else '.'.join(m.split('.')[:2]) for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.strip().split(","))


def test_import_airfoil_loads_no_server_packages() -> None:
    loaded = _imported_after("import airfoil")
    assert not loaded & {"fastapi", "uvicorn", "starlette", "httpx", "prometheus_client"}
    assert "airfoil.server" not in loaded and "airfoil.client" not in loaded


def test_wire_and_client_load_no_server() -> None:
    loaded = _imported_after("import airfoil.wire, airfoil.client")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
