from dataclasses import dataclass

from airfoil.compat.flytekit import task, workflow


@dataclass
class Point:
    x: float
    y: float


@task
def move(p: Point, dx: float) -> Point:
    return Point(x=p.x + dx, y=p.y)


@task
def norm1(p: Point) -> float:
    return abs(p.x) + abs(p.y)


@workflow
def wf(dx: float) -> float:
    return norm1(p=move(p=Point(x=1.0, y=-2.0), dx=dx))


if __name__ == "__main__":
    print(wf(dx=0.5))
