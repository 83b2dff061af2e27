from dataclasses import dataclass

from airfoil.compat.flytekit import task, workflow


@task
def print_message(message: str):
    print(message)
    return


@task
def list_task() -> list[str]:
    return ["a", "b", "c"]


@workflow
def list_wf():
    items = list_task()
    first_item = items[0]
    print_message(message=first_item)


@task
def dict_task() -> dict[str, str]:
    return {"a": "alpha", "b": "beta"}


@workflow
def dict_wf():
    fruits = dict_task()
    print_message(message=fruits["a"])


@dataclass
class Fruit:
    name: str


@task
def dataclass_task() -> Fruit:
    return Fruit(name="banana")


@workflow
def dataclass_wf():
    fruit_instance = dataclass_task()
    print_message(message=fruit_instance.name)


@task
def advanced_task() -> dict[str, list[str]]:
    return {"a": ["apple", "avocado"], "b": ["banana"]}


@workflow
def advanced_workflow():
    dictionary_list = advanced_task()
    print_message(message=dictionary_list["a"][1])


if __name__ == "__main__":
    list_wf()
    dict_wf()
    dataclass_wf()
    advanced_workflow()
