from airfoil.compat.flytekit import LaunchPlan, task, workflow


@task
def scale(x: int, factor: int) -> int:
    return x * factor


@workflow
def scale_wf(x: int, factor: int) -> int:
    return scale(x=x, factor=factor)


triple = LaunchPlan.get_or_create(scale_wf, name="triple", fixed_inputs={"factor": 3})


@task
def log_line(text: str) -> None:
    return None


@workflow
def log_wf(text: str) -> None:
    log_line(text=text)


start = LaunchPlan.get_or_create(log_wf, name="start_log", default_inputs={"text": "start"})
end = LaunchPlan.get_or_create(log_wf, name="end_log", default_inputs={"text": "end"})


@workflow
def pipeline(x: int) -> int:
    s = start()
    y = triple(x=x)
    e = end()
    s >> e
    return scale(x=y, factor=2)


if __name__ == "__main__":
    print(pipeline(x=5))
    print(pipeline(x=7))
