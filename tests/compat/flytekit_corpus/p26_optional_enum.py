import enum
import typing

from airfoil.compat.flytekit import task, workflow


class Coffee(enum.Enum):
    LATTE = "latte"
    ESPRESSO = "espresso"


@task
def price(kind: Coffee, size: typing.Optional[int] = None) -> float:
    base = 3.5 if kind == Coffee.LATTE else 2.0
    return base + (size or 0) * 0.5


@workflow
def wf(kind: Coffee, size: typing.Optional[int] = None) -> float:
    return price(kind=kind, size=size)


if __name__ == "__main__":
    print(wf(kind=Coffee.LATTE))
    print(wf(kind=Coffee.ESPRESSO, size=2))
