"""Database URLs in messages and reprs hide every credential they carry: the password of
``user:password@`` and a libpq query parameter (``?password=``), which PostgreSQL URLs may
use instead. Before, the SQL store's messages hid only the first."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from airfoil.core.errors import ConfigError
from airfoil.store._open import open_meta_store
from airfoil.store.sql._connect import parse_url, safe_url
from airfoil.store.sql._guard import masked_url

SECRET = "QSECRET77"

REFUSED = [
    f"postgresql://127.0.0.1:1/x?user=u&password={SECRET}",  # no driver named
    f"mysql://u:{SECRET}@h/db",
    f"postgresql+psycopg://u@h/db?password={SECRET}&port=bad:port",
    f"postgresql+psycopg://u:{SECRET}@h:notaport/db",  # the parser's own message quotes it
    f"sqlite:///:memory:?password={SECRET}",
]


@pytest.mark.parametrize("url", REFUSED)
def test_a_refused_url_is_named_without_its_credentials(url: str) -> None:
    try:
        parse_url(url)
    except ConfigError as exc:
        assert SECRET not in str(exc), exc
        assert "***" in str(exc) or "u@" in str(exc) or "127.0.0.1" in str(exc)


@pytest.mark.parametrize("url", REFUSED[:2])
def test_the_store_opener_names_a_refused_url_without_its_credentials(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_meta_store(url, "home")
    assert SECRET not in str(caught.value), caught.value


def test_a_shown_url_hides_a_query_password() -> None:
    url = sa.make_url(f"postgresql+psycopg://u@h:5432/db?password={SECRET}&sslmode=require")
    for shown in (safe_url(url), masked_url(url)):
        assert SECRET not in shown and "password=***" in shown and "sslmode=require" in shown
