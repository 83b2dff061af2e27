import os
import tempfile

from airfoil.compat.flytekit import kwtypes, task, workflow
from airfoil.compat.flytekit.extras.tasks.shell import OutputLocation, ShellTask
from airfoil.compat.flytekit.types.file import FlyteFile

append_line = ShellTask(
    name="append_line",
    debug=False,
    script="""
    set -e
    cp {inputs.src} {outputs.out}
    echo "line {inputs.n}" >> {outputs.out}
    """,
    inputs=kwtypes(src=FlyteFile, n=int),
    output_locs=[OutputLocation(var="out", var_type=FlyteFile, location="{inputs.src}.appended")],
)


@task
def seed() -> FlyteFile:
    path = os.path.join(tempfile.mkdtemp(), "seed.txt")
    with open(path, "w") as f:
        f.write("first\n")
    return FlyteFile(path)


@task
def read(f: FlyteFile) -> str:
    with open(f) as fh:
        return fh.read().strip().replace("\n", " | ")


@workflow
def wf(n: int) -> str:
    return read(f=append_line(src=seed(), n=n))


if __name__ == "__main__":
    print(wf(n=7))
