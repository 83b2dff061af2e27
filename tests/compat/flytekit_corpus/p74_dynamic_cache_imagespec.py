import typing

from airfoil.compat.flytekit import ImageSpec, Resources, dynamic, task, workflow

base = ImageSpec(
    name="analytics", packages=["pandas"], python_version="3.11", registry="localhost:30000"
)
gpu_image = base.with_packages(["torch"]).with_apt_packages(["git"])

if base.is_container():
    import pandas  # noqa: F401


@task(container_image=base, requests=Resources(cpu="1", mem="500Mi"))
def square(x: int) -> int:
    return x * x


@task(container_image=gpu_image)
def add(a: int, b: int) -> int:
    return a + b


@dynamic(cache=True, cache_version="1.0", container_image=base)
def sum_of_squares(n: int) -> int:
    total = 0
    for i in range(n):
        total = add(
            a=total,
            b=square(x=i).with_overrides(
                requests=Resources(cpu="1", mem="1Gi"), limits=Resources(mem="2Gi")
            ),
        )
    return total


@workflow
def wf(n: int = 4, m: int = 5) -> typing.List[int]:
    return [sum_of_squares(n=n), sum_of_squares(n=m)]


if __name__ == "__main__":
    print(wf())
    print(wf(n=2, m=3))
    print(type(gpu_image).__name__, gpu_image.name)
