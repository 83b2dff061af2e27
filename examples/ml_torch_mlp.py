"""A PyTorch MLP (CPU) on scikit-learn's digits, trained, registered and served the same way
as the scikit-learn model of ``ml_digits.py``: the model is saved as its ``state_dict`` and
rebuilt from ``init`` and the hyperparameters when loaded.

Run it with ``python examples/ml_torch_mlp.py``; then ``airfoil serve digits_mlp@production``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits

from airfoil.ml import Dataset, Model, local_registry

dataset = Dataset("digits", targets=["target"], test_size=0.2)


class MLP(torch.nn.Module):
    def __init__(self, hidden: int = 64, epochs: int = 30, lr: float = 0.01) -> None:
        super().__init__()
        self.epochs, self.lr = epochs, lr
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x / 16.0)


model = Model("digits_mlp", init=MLP, dataset=dataset)


@dataset.reader
def reader(sample_frac: float = 1.0) -> pd.DataFrame:
    return load_digits(as_frame=True).frame.sample(frac=sample_frac, random_state=0)


@model.trainer
def trainer(net: MLP, X: pd.DataFrame, y: pd.Series) -> MLP:
    torch.manual_seed(0)
    x = torch.tensor(X.to_numpy(dtype=np.float32))
    t = torch.tensor(y.to_numpy(dtype=np.int64))
    opt = torch.optim.Adam(net.parameters(), lr=net.lr)
    for _ in range(net.epochs):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), t)
        loss.backward()
        opt.step()
    return net


@model.predictor
def predictor(net: MLP, features: np.ndarray) -> list[int]:
    with torch.no_grad():
        return [int(i) for i in net(torch.tensor(features, dtype=torch.float32)).argmax(1)]


@model.evaluator
def evaluator(net: MLP, X: pd.DataFrame, y: pd.Series) -> float:
    return float(np.mean(np.array(predictor(net, X.to_numpy(dtype=float))) == y.to_numpy()))


def main() -> None:
    trained = model.train(hyperparameters={"hidden": 64, "epochs": 60})
    fmt = trained.artifact.metadata["format"] if trained.artifact else ""
    print(f"trained {trained.ref} ({fmt}): {trained.metrics}")
    local_registry().promote(trained.ref, "production")
    rows = load_digits(as_frame=True).frame.drop(columns=["target"]).head(5)
    print(f"predicted {model.predict(rows, ref='digits_mlp@production')}")


if __name__ == "__main__":
    main()
