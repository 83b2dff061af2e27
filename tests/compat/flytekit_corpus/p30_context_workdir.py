import os

from airfoil.compat.flytekit import current_context, task, workflow


@task
def scratch(lines: int) -> int:
    ctx = current_context()
    path = os.path.join(ctx.working_directory, "scratch.txt")
    with open(path, "w") as f:
        f.write("\n".join(str(i) for i in range(lines)))
    with open(path) as f:
        return len(f.read().splitlines())


@workflow
def wf(lines: int) -> int:
    return scratch(lines=lines)


if __name__ == "__main__":
    print(wf(lines=12))
