import typing
from dataclasses import dataclass

from airfoil.compat.flytekit import task, workflow


@dataclass
class Metrics:
    accuracy: float
    losses: typing.List[float]


@dataclass
class Report:
    model: str
    metrics: Metrics
    tags: typing.Dict[str, str]


@task
def evaluate(name: str) -> Report:
    return Report(
        model=name,
        metrics=Metrics(accuracy=0.75, losses=[0.9, 0.4, 0.2]),
        tags={"stage": "dev", "owner": "ml"},
    )


@task
def pair() -> typing.Tuple[int, str]:
    return 7, "seven"


@task
def words() -> typing.List[str]:
    return ["alpha", "beta", "gamma"]


@task
def describe(model: str, accuracy: float, last_loss: float, stage: str) -> str:
    return f"{model}: acc={accuracy} last_loss={last_loss} stage={stage}"


@task
def join(a: str, b: str) -> str:
    return f"{a}+{b}"


@workflow
def wf(name: str = "resnet") -> str:
    r = evaluate(name=name)
    return describe(
        model=r.model,
        accuracy=r.metrics.accuracy,
        last_loss=r.metrics.losses[-1],
        stage=r.tags["stage"],
    )


@workflow
def lists() -> str:
    w = words()
    p = pair()
    return join(a=join(a=w[0], b=w[2]), b=p[1])


@workflow
def whole() -> Metrics:
    return evaluate(name="x").metrics


if __name__ == "__main__":
    print(wf())
    print(wf(name="vit"))
    print(lists())
    print(whole())
