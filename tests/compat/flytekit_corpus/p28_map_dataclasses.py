from dataclasses import dataclass

from airfoil.compat.flytekit import map_task, task, workflow


@dataclass
class Order:
    item: str
    qty: int
    unit_price: float


@task
def line_total(order: Order) -> float:
    return order.qty * order.unit_price


@task
def orders() -> list[Order]:
    return [Order("tea", 2, 1.5), Order("cake", 1, 4.25), Order("milk", 3, 0.5)]


@task
def invoice(totals: list[float]) -> str:
    return f"{len(totals)} lines, total {sum(totals):.2f}"


@workflow
def wf() -> str:
    return invoice(totals=map_task(line_total)(order=orders()))


if __name__ == "__main__":
    print(wf())
