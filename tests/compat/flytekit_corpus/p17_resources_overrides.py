from airfoil.compat.flytekit import ImageSpec, Resources, task, workflow

image = ImageSpec(name="trainer", packages=["numpy"], registry="localhost:30000")


@task(
    requests=Resources(cpu="1", mem="200Mi"),
    limits=Resources(cpu="2", mem="400Mi", ephemeral_storage="1Gi"),
    container_image=image,
)
def train(epochs: int) -> float:
    return 1.0 / (1 + epochs)


@workflow
def wf(epochs: int) -> float:
    return train(epochs=epochs).with_overrides(
        requests=Resources(cpu="1", mem="100Mi"), name="training"
    )


if __name__ == "__main__":
    print(round(wf(epochs=3), 4))
