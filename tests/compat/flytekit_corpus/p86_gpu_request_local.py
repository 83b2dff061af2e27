"""Tasks asking for a GPU and an accelerator, and a node overriding its resources: a local run
on a machine without a GPU runs them (flytekit's local run ignores resources)."""

import typing

from airfoil.compat.flytekit import Resources, map_task, task, workflow
from airfoil.compat.flytekit.extras.accelerators import A100, T4


@task(requests=Resources(cpu="1", mem="200Mi", gpu="1"), limits=Resources(gpu="1"), accelerator=T4)
def embed(text: str) -> typing.List[float]:
    return [float(len(word)) for word in text.split()]


@task(requests=Resources(gpu="2"), accelerator=A100.partition_1g_5gb)
def score(vector: typing.List[float]) -> float:
    return sum(vector) / max(len(vector), 1)


@task
def label(value: float) -> str:
    return "long" if value > 4 else "short"


@workflow
def gpu_wf(text: str = "accelerators are optional locally") -> str:
    v = embed(text=text)
    s = score(vector=v).with_overrides(requests=Resources(gpu="4", mem="1Gi"))
    return label(value=s)


@workflow
def many_wf(
    texts: typing.List[str] = ["a bb", "ccc dddd eeeee"],  # noqa: B006
) -> typing.List[typing.List[float]]:
    return map_task(embed)(text=texts)


if __name__ == "__main__":
    print(gpu_wf())
    print(many_wf())
