"""The same training script for every autologged library, run once under ``mlflow.<lib>.autolog()`` and once
under ``bakehouse.<lib>.autolog()`` (``python autolog_parity_script.py mlflow|bakehouse TRACKING_URI LIB...``);
prints, per library, the keys each run logged as one JSON line."""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)

import numpy as np
import pandas as pd

TOOL, URI, LIBRARIES = sys.argv[1], sys.argv[2], sys.argv[3:]
if TOOL == "mlflow":
    import mlflow as tool
else:
    import bakehouse as tool
tool.set_tracking_uri(URI)

rng = np.random.RandomState(0)
X = pd.DataFrame(rng.rand(60, 4), columns=["a", "b", "c", "d"])
y = (X["a"] > 0.5).astype(int)


def xgboost_script() -> None:
    import xgboost as xgb

    dtrain = xgb.DMatrix(X, y)
    xgb.train({"objective": "binary:logistic", "max_depth": 2}, dtrain, 3, evals=[(dtrain, "train")])
    xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y, eval_set=[(X, y)], verbose=False)


def lightgbm_script() -> None:
    import lightgbm as lgb

    data = lgb.Dataset(X, y)
    lgb.train({"objective": "binary", "verbose": -1}, data, 3, valid_sets=[data], valid_names=["train"])
    lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y, eval_set=[(X, y)])


def keras_script() -> None:
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(
        X.to_numpy("float32"), y.to_numpy("float32"), epochs=2, batch_size=16, validation_split=0.2, verbose=0
    )


def pytorch_script() -> None:
    import lightning
    import torch

    class Module(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(x)

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
            x, target = batch
            loss = torch.nn.functional.mse_loss(self(x).squeeze(-1), target)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> None:
            x, target = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self(x).squeeze(-1), target))

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    data = torch.utils.data.TensorDataset(
        torch.tensor(X.to_numpy("float32")), torch.tensor(y.to_numpy("float32"))
    )
    loader = torch.utils.data.DataLoader(data, batch_size=16)
    trainer = lightning.Trainer(
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Module(), loader, loader)


def statsmodels_script() -> None:
    import statsmodels.api as sm

    sm.OLS(y.astype(float), sm.add_constant(X)).fit()


def transformers_script() -> None:
    import torch
    import transformers

    config = transformers.BertConfig(
        vocab_size=20,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
        num_labels=2,
    )
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)

    class Data(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 8

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            return {
                "input_ids": torch.tensor([1, 2, 3, 4]),
                "attention_mask": torch.ones(4, dtype=torch.long),
                "labels": torch.tensor(i % 2),
            }

    args = transformers.TrainingArguments(
        output_dir=os.path.join(os.getcwd(), "trainer"),
        num_train_epochs=1,
        per_device_train_batch_size=4,
        report_to=[],
        logging_steps=1,
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    transformers.Trainer(model=model, args=args, train_dataset=Data()).train()


def summary(run: object) -> dict[str, object]:
    data, info = run.data, run.info
    client = tool.MlflowClient() if TOOL == "mlflow" else tool.Client()
    artifacts = sorted(a.path for a in client.list_artifacts(info.run_id))
    outputs = run.outputs.model_outputs if run.outputs else []
    inputs = run.inputs.dataset_inputs if run.inputs else []
    return {
        "params": sorted(data.params),
        "metrics": sorted(data.metrics),
        "tags": sorted(
            k
            for k in data.tags
            if not k.startswith("mlflow.") or k in ("mlflow.autologging", "mlflow.latest_checkpoint_artifact")
        ),
        "artifacts": artifacts,
        "models": len(outputs),
        "datasets": len(inputs),
        "status": info.status,
    }


for library in LIBRARIES:
    experiment = tool.set_experiment(library)
    getattr(tool, library).autolog()
    globals()[f"{library}_script"]()
    getattr(tool, library).autolog(disable=True)
    runs = tool.search_runs([experiment.experiment_id], output_format="list")
    print(json.dumps({"library": library, "runs": sorted((summary(r) for r in runs), key=json.dumps)}))
