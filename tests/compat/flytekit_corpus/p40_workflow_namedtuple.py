import typing

from airfoil.compat.flytekit import task, workflow

Split = typing.NamedTuple("Split", [("train", typing.List[int]), ("test", typing.List[int])])


@task
def split(xs: typing.List[int], ratio: float) -> Split:
    cut = int(len(xs) * ratio)
    return Split(train=xs[:cut], test=xs[cut:])


@task
def size(xs: typing.List[int]) -> int:
    return len(xs)


@workflow
def wf(xs: typing.List[int]) -> typing.Tuple[int, int]:
    train, test = split(xs=xs, ratio=0.75)
    return size(xs=train), size(xs=test)


if __name__ == "__main__":
    n_train, n_test = wf(xs=list(range(8)))
    print(n_train, n_test)
