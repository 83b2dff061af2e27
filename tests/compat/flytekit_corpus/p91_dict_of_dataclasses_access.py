"""Attribute and key access on task outputs that are dicts of dataclasses and lists of them,
passed to a dynamic fan-out and a map task."""

import typing
from dataclasses import dataclass
from functools import partial

from airfoil.compat.flytekit import dynamic, map_task, task, workflow


@dataclass
class Model:
    name: str
    depth: int
    scores: typing.List[float]


@task
def catalog() -> typing.Dict[str, Model]:
    return {
        "tree": Model(name="tree", depth=4, scores=[0.7, 0.8]),
        "forest": Model(name="forest", depth=9, scores=[0.9, 0.85, 0.95]),
    }


@task
def ranked(models: typing.Dict[str, Model]) -> typing.List[Model]:
    return sorted(models.values(), key=lambda m: -max(m.scores))


@task
def describe(name: str, depth: int) -> str:
    return f"{name}@{depth}"


@task
def weighted(score: float, weight: float) -> float:
    return round(score * weight, 3)


@dynamic
def fan_out(models: typing.List[Model]) -> typing.List[str]:
    return [describe(name=m.name, depth=m.depth) for m in models]


@workflow
def access_wf(weight: float = 2.0) -> typing.Tuple[str, int, typing.List[str], typing.List[float]]:
    cat = catalog()
    best = ranked(models=cat)
    first_name = best[0].name
    tree_depth = cat["tree"].depth
    labels = fan_out(models=best)
    scaled = map_task(partial(weighted, weight=weight))(score=cat["forest"].scores)
    return first_name, tree_depth, labels, scaled


if __name__ == "__main__":
    print(access_wf())
    print(access_wf(weight=0.5)[3])
