import os
import tempfile

from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.types.file import FlyteFile


@task
def write_csv(rows: int) -> FlyteFile:
    path = os.path.join(tempfile.mkdtemp(), "data.csv")
    with open(path, "w") as f:
        for i in range(rows):
            f.write(f"{i},{i * i}\n")
    return FlyteFile(path)


@task
def sum_squares(f: FlyteFile) -> int:
    with open(f) as fh:
        return sum(int(line.split(",")[1]) for line in fh)


@workflow
def wf(rows: int) -> int:
    return sum_squares(f=write_csv(rows=rows))


if __name__ == "__main__":
    print(wf(rows=4))
