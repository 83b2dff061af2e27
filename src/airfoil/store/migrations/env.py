"""Alembic environment: hands over to :func:`airfoil.store.sql._migrate.run_environment`.

Importing this module outside an Alembic run does nothing.
"""

from __future__ import annotations

from alembic import context

from airfoil.store.sql._migrate import run_environment

if getattr(context, "_proxy", None) is not None:  # only when Alembic runs it
    run_environment(context)
