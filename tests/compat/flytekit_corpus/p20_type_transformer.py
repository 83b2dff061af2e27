from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.extend import TypeEngine, TypeTransformer
from airfoil.compat.flytekit.models.literals import Literal, Primitive, Scalar
from airfoil.compat.flytekit.models.types import LiteralType, SimpleType


class Money:
    def __init__(self, cents: int) -> None:
        self.cents = cents


class MoneyTransformer(TypeTransformer[Money]):
    def __init__(self) -> None:
        super().__init__(name="money", t=Money)

    def get_literal_type(self, t):
        return LiteralType(simple=SimpleType.STRING)

    def to_literal(self, ctx, python_val, python_type, expected):
        return Literal(scalar=Scalar(primitive=Primitive(string_value=f"{python_val.cents}c")))

    def to_python_value(self, ctx, lv, expected_python_type):
        return Money(int(lv.scalar.primitive.string_value[:-1]))


TypeEngine.register(MoneyTransformer())


@task
def price(units: int) -> Money:
    return Money(units * 250)


@task
def show(m: Money) -> str:
    return f"${m.cents // 100}.{m.cents % 100:02d}"


@workflow
def wf(units: int) -> str:
    return show(m=price(units=units))


if __name__ == "__main__":
    print(wf(units=3))
