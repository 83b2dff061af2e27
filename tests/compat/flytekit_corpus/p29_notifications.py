from airfoil.compat.flytekit import (
    Email,
    LaunchPlan,
    Slack,
    WorkflowExecutionPhase,
    task,
    workflow,
)


@task
def count_words(text: str) -> int:
    return len(text.split())


@workflow
def words(text: str) -> int:
    return count_words(text=text)


alerting = LaunchPlan.get_or_create(
    words,
    name="words_with_alerts",
    default_inputs={"text": "to be or not to be"},
    notifications=[
        Email(phases=[WorkflowExecutionPhase.FAILED], recipients_email=["oncall@example.com"]),
        Slack(phases=[WorkflowExecutionPhase.SUCCEEDED], recipients_email=["#ml"]),
    ],
)

if __name__ == "__main__":
    print(alerting())
    print(alerting(text="hello there"))
