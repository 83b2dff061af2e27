import os
import tempfile

from airfoil.compat.flytekit import Resources, task, workflow
from airfoil.compat.flytekit.extras.accelerators import A100, T4
from airfoil.compat.flytekit.types.file import CSVFile


@task(requests=Resources(cpu="1", mem="100Mi"), accelerator=T4)
def write() -> CSVFile:
    p = os.path.join(tempfile.mkdtemp(), "x.csv")
    with open(p, "w") as f:
        f.write("a,b\n1,2\n")
    return CSVFile(p)


@task(accelerator=A100.partition_1g_5gb)
def read(f: CSVFile) -> str:
    with open(f) as fh:
        return fh.read().splitlines()[1]


@workflow
def wf() -> str:
    return read(f=write())


if __name__ == "__main__":
    print(wf())
