"""Alembic migrations of the SQL metadata store (SQLite and PostgreSQL).

``env.py`` and ``versions/`` are run by Alembic, never imported by Airfoil itself: use
:func:`airfoil.store.sql.migrate`, or from a source checkout
``alembic -c src/airfoil/store/migrations/alembic.ini -x url=sqlite:///airfoil.db upgrade head``.
A new revision also updates ``airfoil.store.sql._schema`` (``KNOWN_REVISIONS`` and the
tables); a test checks that the two agree.
"""
