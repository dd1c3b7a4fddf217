"""The seeds' iris script runs with ``import bakehouse as mlflow`` (and its model-logging line removed)."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

from sklearn.linear_model import LogisticRegression

from bakehouse.client.client import Client

# The script from the seeds (section 4.1), verbatim but for the two changes the issue allows.
SEEDS_SCRIPT = """
import mlflow
import mlflow.sklearn
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, precision_score, recall_score, f1_score

# Iris dataset 로드
iris = datasets.load_iris()
X = iris.data
y = iris.target

# Train/Test 분리
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)

# MLFlow 실험 시작
with mlflow.start_run():
    # 파라미터 설정
    params = {
        "solver": "lbfgs",
        "max_iter": 1000,
        "multi_class": "auto",
        "random_state": 8888
    }

    # 모델 정의 및 학습
    lr = LogisticRegression(**params)
    lr.fit(X_train, y_train)

    # 예측
    predictions = lr.predict(X_test)

    # Metrics 계산
    accuracy = accuracy_score(y_test, predictions)
    # (다른 metric 계산 코드 생략 가능성 있음, 화면상 visible한 부분 위주)

    # MLFlow에 기록 (Logging)
    mlflow.log_params(params)           # 파라미터 기록
    mlflow.log_metric("accuracy", accuracy) # 성능 지표 기록
    mlflow.sklearn.log_model(lr, "model")   # 모델 저장

    print(f"Accuracy: {accuracy}")
"""


def adapted_script() -> str:
    script = SEEDS_SCRIPT.replace("import mlflow\nimport mlflow.sklearn\n", "import bakehouse as mlflow\n")
    script = script.replace('    mlflow.sklearn.log_model(lr, "model")   # 모델 저장\n', "")
    if "multi_class" not in inspect.signature(LogisticRegression).parameters:
        # scikit-learn 1.8 removed `multi_class` ("auto" was already its only behaviour); not a tracking matter.
        script = script.replace('        "multi_class": "auto",\n', "")
    return script


def test_seeds_iris_script_runs_with_bakehouse(tmp_path: Path) -> None:
    script = tmp_path / "iris_train.py"
    script.write_text(adapted_script(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAKEHOUSE_", "MLFLOW_"))}
    proc = subprocess.run(
        [sys.executable, str(script)],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    accuracy = float(proc.stdout.split("Accuracy:")[1].strip())
    assert (tmp_path / "bakehouse.db").exists()  # the embedded default, no configuration

    client = Client(f"sqlite:///{tmp_path / 'bakehouse.db'}")
    runs = client.search_runs(["0"])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"accuracy": accuracy}
    assert run.data.params["solver"] == "lbfgs"
    assert run.data.params["max_iter"] == "1000"
    assert run.data.params["random_state"] == "8888"
    assert run.data.tags["mlflow.source.name"] == str(script)
