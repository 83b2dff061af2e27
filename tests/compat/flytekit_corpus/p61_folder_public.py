import os
import tempfile
from pathlib import Path

from airfoil.compat.flytekit import map_task, task, workflow
from airfoil.compat.flytekit.types.directory import FlyteDirectory
from airfoil.compat.flytekit.types.file import FlyteFile


@task
def make_files(n: int) -> FlyteDirectory:
    d = Path(tempfile.mkdtemp()) / "numbers"
    d.mkdir()
    for i in range(n):
        (d / f"n{i}.txt").write_text(str(i * 10))
    return FlyteDirectory(path=str(d))


@task
def list_files(d: FlyteDirectory) -> list[FlyteFile]:
    return [FlyteFile(os.path.join(d, name)) for name in sorted(os.listdir(d))]


@task
def read_one(f: FlyteFile) -> int:
    with open(f) as fh:
        return int(fh.read())


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task
def count_files(d: FlyteDirectory) -> str:
    d.download()
    return f"{len(os.listdir(d.path))} files in {os.path.basename(d.path) or 'dir'}"


@workflow
def folder_wf(n: int = 4) -> int:
    files = list_files(d=make_files(n=n))
    return total(xs=map_task(read_one)(f=files))


@workflow
def count_wf(n: int = 3) -> str:
    return count_files(d=make_files(n=n))


if __name__ == "__main__":
    print(folder_wf())
    print(count_wf().split(" in ")[0])
