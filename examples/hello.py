"""The smallest Airfoil workflow: ``airfoil run examples/hello.py wf --who Ada``."""

import airfoil as af


@af.task
def greet(who: str) -> str:
    return f"Hello, {who}!"


@af.task
def shout(text: str) -> str:
    return text.upper()


@af.workflow
def wf(who: str = "world") -> str:
    return shout(text=greet(who=who))
