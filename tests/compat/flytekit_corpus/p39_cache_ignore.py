from airfoil.compat.flytekit import task, workflow

calls = []


@task(cache=True, cache_version="1", cache_ignore_input_vars=("verbose",))
def slow_square(x: int, verbose: bool) -> int:
    return x * x


@workflow
def wf(x: int, verbose: bool) -> int:
    return slow_square(x=x, verbose=verbose)


if __name__ == "__main__":
    print(wf(x=9, verbose=False))
    print(wf(x=9, verbose=True))
