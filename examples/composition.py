"""Python-native composition: a task that calls tasks with plain Python control flow.

    airfoil run examples/composition.py score_all --urls '["a.csv", "b.csv", "bad"]'
    airfoil run --executor process examples/composition.py score_all --urls '["a.csv", "b.csv"]'

Each call is a durable child node of ``score_all`` (see ``airfoil executions show ID``); the
calls inside ``af.gather`` run side by side on the process executor.
"""

from __future__ import annotations

import time

import airfoil as af


class UnreadableError(ValueError):
    """The source cannot be read."""


@af.task(retries=1, cache=True)
def load(url: str) -> list[float]:
    if not url.endswith(".csv"):
        raise UnreadableError(f"{url} is not a CSV file")
    return [float(len(url) + i) for i in range(5)]


@af.task
def score(values: list[float]) -> float:
    time.sleep(0.2)  # stands for real work
    return sum(values) / len(values)


@af.task
def score_all(urls: list[str]) -> dict[str, float]:
    loaded: dict[str, list[float]] = {}
    for url in urls:
        try:
            loaded[url] = load(url=url)
        except UnreadableError as exc:  # the child's own exception type
            af.current_context().logger.warning("skipped: %s", exc)
    scores = af.gather(*(score(values=v) for v in loaded.values()))
    return dict(zip(loaded, scores, strict=True))


@af.workflow
def load_and_score(url: str) -> float:
    return score(values=load(url=url))


@af.task
def best(urls: list[str]) -> str:
    """The URL with the best score. Each workflow call is a child node of ``best`` whose
    children are the workflow's nodes; a failure inside it raises here, as its own type:

        airfoil run examples/composition.py best --urls '["a.csv", "bb.csv", "bad"]'
    """
    scores: dict[str, float] = {}
    for url in urls:
        try:
            scores[url] = load_and_score(url=url)
        except UnreadableError as exc:
            af.current_context().logger.warning("skipped: %s", exc)
    return max(scores, key=lambda u: scores[u])
