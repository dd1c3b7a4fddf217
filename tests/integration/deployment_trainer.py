"""A training loop as a user writes it with Bakehouse's client, run by the deployment test in its own process.

The server, credentials and CA come from the environment (BAKEHOUSE_TRACKING_URI, ..._USERNAME/PASSWORD,
SSL_CERT_FILE or MLFLOW_TRACKING_SERVER_CERT_PATH). Every step logs one batch; each batch the server
acknowledged is printed as ``ack <step>`` the moment the call returns, so the test knows exactly which
points must be stored. The loop runs until STEPS steps or until the file named by STOP_FILE exists.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

from bakehouse.client.client import Client
from bakehouse.entities import Metric

STEPS = int(os.environ.get("TRAINER_STEPS", "100000"))
PAUSE = float(os.environ.get("TRAINER_PAUSE", "0.02"))
STOP_FILE = Path(os.environ["TRAINER_STOP_FILE"])


def main() -> None:
    client = Client()
    experiment_id = client.create_experiment(os.environ["TRAINER_EXPERIMENT"])
    run = client.create_run(experiment_id, run_name="resnet-tiny")
    run_id = run.info.run_id
    print(f"run {run_id}", flush=True)
    step = 0
    while step < STEPS and not STOP_FILE.exists():
        now = int(time.time() * 1000)
        metrics = [
            Metric("loss", math.exp(-step / 200), now, step),
            Metric("accuracy", 1 - math.exp(-step / 150), now, step),
        ]
        client.log_batch(run_id, metrics=metrics)
        print(f"ack {step}", flush=True)
        step += 1
        time.sleep(PAUSE)
    client.set_terminated(run_id, "FINISHED")
    print(f"done {step}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # noqa: BLE001 - the test reads this line
        print(f"failed {type(exc).__name__}: {exc}", flush=True)
        sys.exit(1)
