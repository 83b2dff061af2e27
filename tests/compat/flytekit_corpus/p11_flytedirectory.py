import os
import tempfile

from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.types.directory import FlyteDirectory


@task
def make_dir(n: int) -> FlyteDirectory:
    d = tempfile.mkdtemp()
    for i in range(n):
        with open(os.path.join(d, f"part{i}.txt"), "w") as f:
            f.write("x" * (i + 1))
    return FlyteDirectory(d)


@task
def total_size(d: FlyteDirectory) -> int:
    return sum(os.path.getsize(os.path.join(d.path, name)) for name in os.listdir(d.path))


@workflow
def wf(n: int) -> int:
    return total_size(d=make_dir(n=n))


if __name__ == "__main__":
    print(wf(n=3))
