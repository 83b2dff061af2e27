import typing

from airfoil.compat.flytekit import Workflow, task, workflow
from airfoil.compat.flytekit.core.node_creation import create_node


@task
def t1(a: str) -> str:
    return a + " world"


@task
def t2() -> None:
    print("t2 ran")


@task
def t3(a: typing.List[str]) -> str:
    return ",".join(a)


@task
def count(a: str) -> int:
    return len(a)


wb = Workflow(name="my_workflow")
wb.add_workflow_input("in1", str)
node = wb.add_entity(t1, a=wb.inputs["in1"])
wb.add_entity(t2)
wb.add_workflow_output("from_n0t1", node.outputs["o0"])

wb2 = Workflow(name="list_workflow")
wb2.add_workflow_input("in1", str)
wb2.add_workflow_input("in2", str)
n2 = wb2.add_entity(t3, a=[wb2.inputs["in1"], wb2.inputs["in2"]])
n3 = wb2.add_entity(count, a=n2.outputs["o0"])
wb2.add_workflow_output("joined", n2.outputs["o0"])
wb2.add_workflow_output("length", n3.outputs["o0"])


@workflow
def ordered(a: str = "hello") -> int:
    first = create_node(t2)
    second = create_node(t1, a=a)
    third = create_node(count, a=second.o0)
    first >> second
    return third.o0


@workflow
def uses_imperative(x: str = "nested") -> str:
    return wb(in1=x)


if __name__ == "__main__":
    print(wb(in1="hello"))
    print(wb2(in1="a", in2="b"))
    print(ordered())
    print(uses_imperative())
