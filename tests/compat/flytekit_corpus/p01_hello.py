from airfoil.compat.flytekit import task, workflow


@task
def greet(name: str) -> str:
    return f"hello {name}"


@task
def shout(text: str) -> str:
    return text.upper() + "!"


@workflow
def hello_wf(name: str = "world") -> str:
    return shout(text=greet(name=name))


if __name__ == "__main__":
    print(hello_wf())
    print(hello_wf(name="airfoil"))
