from datetime import timedelta

from airfoil.compat.flytekit import CronSchedule, FixedRate, LaunchPlan, task, workflow
from airfoil.compat.flytekit.core.context_manager import FlyteContextManager


@task
def greet(greeting: str, name: str, times: int) -> str:
    return " ".join([f"{greeting}, {name}!"] * times)


@workflow
def greet_wf(greeting: str, name: str, times: int = 1) -> str:
    return greet(greeting=greeting, name=name, times=times)


default_lp = LaunchPlan.get_default_launch_plan(FlyteContextManager.current_context(), greet_wf)
hello_lp = LaunchPlan.get_or_create(
    workflow=greet_wf,
    name="hello_lp",
    default_inputs={"name": "world"},
    fixed_inputs={"greeting": "hello"},
)
again = LaunchPlan.get_or_create(
    greet_wf, "hello_lp", default_inputs={"name": "world"}, fixed_inputs={"greeting": "hello"}
)
nightly = LaunchPlan.get_or_create(
    greet_wf,
    name="nightly",
    fixed_inputs={"greeting": "night", "name": "owl"},
    schedule=CronSchedule(schedule="0 2 * * *"),
)
every_hour = LaunchPlan.create(
    "every_hour",
    greet_wf,
    default_inputs={"greeting": "tick", "name": "clock"},
    schedule=FixedRate(duration=timedelta(hours=1)),
)


@workflow
def uses_plans(name: str) -> str:
    return hello_lp(name=name, times=2)


if __name__ == "__main__":
    print(default_lp(greeting="hi", name="ada"))
    print(hello_lp())
    print(hello_lp(name="bob", times=2))
    print(again is hello_lp)
    print(nightly())
    print(every_hour(times=2))
    print(uses_plans(name="cy"))
    print(hello_lp.name, nightly.name, default_lp.name)
