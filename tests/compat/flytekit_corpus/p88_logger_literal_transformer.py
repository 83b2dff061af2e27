"""A custom type with a TypeTransformer made of flytekit's top-level Literal, Scalar and
LiteralType names, and flytekit.logger used inside tasks."""

import typing

import airfoil.compat.flytekit as flytekit
from airfoil.compat.flytekit import Literal, LiteralType, Scalar, task, workflow
from airfoil.compat.flytekit.extend import TypeEngine, TypeTransformer
from airfoil.compat.flytekit.models.literals import Primitive
from airfoil.compat.flytekit.models.types import SimpleType


class Money:
    def __init__(self, cents: int):
        self.cents = cents

    def __repr__(self) -> str:
        return f"Money({self.cents / 100:.2f})"


class MoneyTransformer(TypeTransformer[Money]):
    def __init__(self):
        super().__init__(name="money", t=Money)

    def get_literal_type(self, t: typing.Type[Money]) -> LiteralType:
        return LiteralType(simple=SimpleType.INTEGER)

    def to_literal(self, ctx, python_val: Money, python_type, expected) -> Literal:
        return Literal(scalar=Scalar(primitive=Primitive(integer=python_val.cents)))

    def to_python_value(self, ctx, lv: Literal, expected_python_type) -> Money:
        return Money(lv.scalar.primitive.integer)


TypeEngine.register(MoneyTransformer())


@task
def price(units: int, each_cents: int) -> Money:
    flytekit.logger.info("pricing %d units", units)
    return Money(units * each_cents)


@task
def with_tax(m: Money, rate: float) -> Money:
    flytekit.logger.debug("tax rate %s", rate)
    return Money(round(m.cents * (1 + rate)))


@task
def show(m: Money) -> str:
    return repr(m)


@workflow
def money_wf(units: int = 3, each_cents: int = 250) -> str:
    return show(m=with_tax(m=price(units=units, each_cents=each_cents), rate=0.2))


if __name__ == "__main__":
    print(money_wf())
    print(money_wf(units=1, each_cents=99))
    print(flytekit.logger.name)
