import enum
import typing

from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.types.pickle import FlytePickle


class Counter:
    def __init__(self, start: int):
        self.value = start

    def bump(self, by: int) -> "Counter":
        self.value += by
        return self


class Mode(enum.Enum):
    FAST = "fast"
    SAFE = "safe"


@task
def make_counter(start: int) -> Counter:
    return Counter(start)


@task
def bump(c: Counter, by: int) -> Counter:
    return c.bump(by)


@task
def as_pickle(c: Counter) -> FlytePickle:
    return c


@task
def read_pickle(p: FlytePickle) -> int:
    return p.value


@task
def choose(mode: Mode, level: typing.Literal["low", "high"]) -> str:
    return f"{mode.value}-{level}"


@task
def next_mode(mode: Mode) -> Mode:
    return Mode.SAFE if mode == Mode.FAST else Mode.FAST


@workflow
def wf(start: int, mode: Mode = Mode.FAST) -> typing.Tuple[int, str, Mode]:
    c = bump(c=make_counter(start=start), by=5)
    return read_pickle(p=as_pickle(c=c)), choose(mode=mode, level="high"), next_mode(mode=mode)


if __name__ == "__main__":
    print(wf(start=1))
    print(wf(start=2, mode=Mode.SAFE))
