import typing

from airfoil.compat.flytekit import task, workflow


@task
def parse(text: str) -> typing.Optional[int]:
    return int(text) if text.isdigit() else None


@task
def describe(value: typing.Optional[int]) -> typing.Union[int, str]:
    return value * 2 if value is not None else "not a number"


@workflow
def wf(text: str) -> typing.Union[int, str]:
    return describe(value=parse(text=text))


if __name__ == "__main__":
    print(wf(text="21"))
    print(wf(text="abc"))
