"""The order a router tries its routes in: the ones a running server answers most, first.

FastAPI tries a router's routes in order and takes the first whose path and method match:
each try costs ~3-5 us (the path's regex and FastAPI's bookkeeping of the request's scope),
and a request to an included router tries them twice (the router is asked whether it
matches, then handles the request: each pass tries its routes again). A waiting client's
event page was the 21st route of ``/api/v1``: ~0.1-0.2 ms of the API's CPU a request
(issue 17), where a detail's whole answer costs ~1 ms.

Invariant: moving a route ahead of others changes no answer as long as none of those others
can match a method and path it matches (:func:`overlaps`); :func:`hot_first` moves only
such routes and returns the ones it could not move.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

__all__ = ["hot_first", "overlaps"]


def _segments(path: str) -> list[str] | None:
    """The path's segments; None where one can span several (a ``{name:path}``)."""
    parts = path.strip("/").split("/")
    return None if any(":path}" in p for p in parts) else parts


def _ends(route: object, prefix: str = "") -> list[tuple[set[str], str]] | None:
    """The (methods, full path) a route answers: an included router's, each of its routes
    (under its prefix); None for anything else than those and API routes (a mount)."""
    if isinstance(route, APIRoute):
        return [(set(route.methods or ()), prefix + route.path)]
    inner = getattr(route, "original_router", None)
    context = getattr(route, "include_context", None)
    if not isinstance(inner, APIRouter) or context is None:
        return None
    out: list[tuple[set[str], str]] = []
    for r in inner.routes:
        found = _ends(r, str(context.prefix or ""))
        if found is None:
            return None
        out.extend(found)
    return out


def _paths_overlap(a: str, b: str) -> bool:
    sa, sb = _segments(a), _segments(b)
    if sa is None or sb is None:
        return True
    if len(sa) != len(sb):
        return False
    return all(x == y or "{" in x or "{" in y for x, y in zip(sa, sb, strict=True))


def overlaps(a: object, b: object) -> bool:
    """Whether some request could match both routes (a method of both, a path of both).

    Conservative: a segment holding a parameter anywhere matches any other segment, and a
    route of another kind than an API route or an included router of those (a mount)
    overlaps everything."""
    ea, eb = _ends(a), _ends(b)
    if ea is None or eb is None:
        return True
    return any(ma & mb and _paths_overlap(pa, pb) for ma, pa in ea for mb, pb in eb)


def hot_first(router: APIRouter, hot: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Move the routes ``hot`` names (method, full path; in that order) to the front of
    ``router``'s, each only if no route it would pass overlaps it; returns those left
    where they were (or not found). Call it before the router is included anywhere."""
    routes = list(router.routes)
    moved: list[BaseRoute] = []
    left: list[tuple[str, str]] = []
    for method, path in hot:
        found = next(
            (
                i
                for i, r in enumerate(routes)
                if isinstance(r, APIRoute) and r.path == path and method in (r.methods or ())
            ),
            None,
        )
        if found is None or any(overlaps(routes[found], r) for r in routes[:found]):
            left.append((method, path))
            continue
        moved.append(routes.pop(found))
    router.routes[:] = [*moved, *routes]
    return left
