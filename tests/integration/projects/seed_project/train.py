"""The seeds' iris training code (section 4.1) as the IrisProject's ``train.py`` (section 5): the official
``mlflow`` client, the entry point's parameter ``C`` from the command line.

Two changes to the seeds' code, neither about tracking: ``C`` comes from ``--C`` (the MLproject's command),
and the ``"multi_class": "auto"`` parameter is left out because scikit-learn 1.8 removed it (``auto`` was
already its only behaviour), so the same script runs on every scikit-learn the environments install.
"""

import argparse

import mlflow
import mlflow.sklearn
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--C", type=float, default=1.0)
args = parser.parse_args()

# Iris dataset
iris = datasets.load_iris()
X = iris.data
y = iris.target

# Train/Test split
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)

with mlflow.start_run():
    params = {
        "solver": "lbfgs",
        "max_iter": 1000,
        "random_state": 8888,
    }

    lr = LogisticRegression(C=args.C, **params)
    lr.fit(X_train, y_train)

    predictions = lr.predict(X_test)
    accuracy = accuracy_score(y_test, predictions)

    mlflow.log_params(params)
    mlflow.log_metric("accuracy", accuracy)
    mlflow.sklearn.log_model(lr, "model")

    print(f"Accuracy: {accuracy}")
