import itertools
import typing
from dataclasses import dataclass, field

from airfoil.compat.flytekit import task, workflow


@dataclass
class Point:
    x: float
    y: float


@dataclass
class Shape:
    name: str
    points: typing.List[Point]
    tags: typing.Dict[str, str] = field(default_factory=dict)
    parent: typing.Optional[str] = None


@task
def square(side: float) -> Shape:
    pts = [Point(0, 0), Point(side, 0), Point(side, side), Point(0, side)]
    return Shape(name="square", points=pts, tags={"kind": "regular"})


@task
def perimeter(s: Shape) -> float:
    pts = s.points + s.points[:1]
    return sum(abs(a.x - b.x) + abs(a.y - b.y) for a, b in itertools.pairwise(pts))


@task
def shift(s: Shape, dx: float) -> Shape:
    return Shape(
        name=s.name + "'",
        points=[Point(p.x + dx, p.y) for p in s.points],
        tags=s.tags,
        parent=s.name,
    )


@task
def first_points(shapes: typing.List[Shape]) -> typing.List[Point]:
    return [s.points[0] for s in shapes]


@workflow
def wf(side: float) -> typing.Tuple[float, Shape, typing.List[Point]]:
    sq = square(side=side)
    moved = shift(s=sq, dx=1.5)
    return perimeter(s=moved), moved, first_points(shapes=[sq, moved])


if __name__ == "__main__":
    p, shape, firsts = wf(side=2.0)
    print(p)
    print(shape)
    print(firsts)
