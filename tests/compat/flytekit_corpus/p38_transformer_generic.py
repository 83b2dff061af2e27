import typing

from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.core.type_engine import TypeEngine, TypeTransformer
from airfoil.compat.flytekit.models.literals import Literal, LiteralCollection, Primitive, Scalar
from airfoil.compat.flytekit.models.types import LiteralType, SimpleType


class Vector:
    def __init__(self, values: typing.List[float]) -> None:
        self.values = values


class VectorTransformer(TypeTransformer[Vector]):
    def __init__(self) -> None:
        super().__init__(name="vector", t=Vector)

    def get_literal_type(self, t):
        return LiteralType(collection_type=LiteralType(simple=SimpleType.FLOAT))

    def to_literal(self, ctx, python_val, python_type, expected):
        items = [
            Literal(scalar=Scalar(primitive=Primitive(float_value=v))) for v in python_val.values
        ]
        return Literal(collection=LiteralCollection(literals=items))

    def to_python_value(self, ctx, lv, expected_python_type):
        return Vector([lit.scalar.primitive.float_value for lit in lv.collection.literals])


TypeEngine.register(VectorTransformer())


@task
def make(n: int) -> Vector:
    return Vector([float(i) / 2 for i in range(n)])


@task
def norm2(v: Vector) -> float:
    return sum(x * x for x in v.values)


@workflow
def wf(n: int) -> float:
    return norm2(v=make(n=n))


if __name__ == "__main__":
    print(wf(n=4))
