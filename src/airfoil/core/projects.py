"""Projects and domains: the names every run, cache entry and name is recorded under.

One rule for a local run and a server: a server refuses a project name or domain that breaks
it with a 422, a local run with a ``bad AIRFOIL_PROJECT / AIRFOIL_DOMAIN setting`` error, so
a typo never records runs (and cache entries, which are scoped by project and domain) under
a project or domain of its own.
"""

from __future__ import annotations

import re

__all__ = [
    "DOMAINS",
    "PROJECT_NAME",
    "domain_problem",
    "project_name_problem",
    "qualified_name",
]

#: The domains every project has.
DOMAINS = ("development", "staging", "production")
#: What a project's name (and other names of the API) look like: 1-100 letters, digits,
#: ``_``, ``.`` and ``-``, starting with a letter or a digit.
PROJECT_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
_PROJECT = re.compile(PROJECT_NAME)


def domain_problem(domain: str) -> str | None:
    """What is wrong with ``domain`` (None if it is one of :data:`DOMAINS`)."""
    if domain in DOMAINS:
        return None
    return f"unknown domain {domain!r}: use one of {', '.join(DOMAINS)}"


def project_name_problem(name: object) -> str | None:
    """What is wrong with a project's ``name`` (None if it is valid; not a str is wrong)."""
    if isinstance(name, str) and _PROJECT.fullmatch(name):
        return None
    return (
        f"invalid project name {name!r}: use 1-100 letters, digits, '_', '.' or '-', "
        "starting with a letter or a digit"
    )


def qualified_name(project: str, name: str) -> str:
    """``project``'s ``name`` (a deployment's, a model's) as one string no other pair maps to:
    ``project.name`` with the project's own dots written ``:``, so that project ``team.a``'s
    ``m`` (``team:a.m``) and project ``team``'s ``a.m`` (``team.a.m``) stay apart. Neither a
    project's name nor an artifact's holds ``:``; a project without dots keeps the plain
    ``project.name`` (what was used before, so what is running under it is found again)."""
    return f"{project.replace('.', ':')}.{name}"
