"""Small batches run on one thread: for a few rows, waking a library's thread pool costs more than it saves.

Tree libraries and runtimes (XGBoost, ONNX Runtime, ...) spread every prediction over all cores by default.
For a one-row request the work is microseconds, and the pool's wake-up and spin-wait dominate; on a busy
machine it is far worse, as the pool waits for cores other processes hold (measured for XGBoost at a load
average of 40 on 2 cores: 136 ms for one row with the default pool, 0.25 ms on one thread). Results are
the same either way: the thread count only splits rows between threads.
"""

from __future__ import annotations

from typing import Any

#: batches up to this many rows are predicted on one thread by the scoring server
SINGLE_THREAD_ROWS = 256


def is_small_batch(data: Any) -> bool:
    """True for a table, array or list of at most :data:`SINGLE_THREAD_ROWS` rows."""
    shape = getattr(data, "shape", None)
    if shape:
        return int(shape[0]) <= SINGLE_THREAD_ROWS
    return isinstance(data, list) and len(data) <= SINGLE_THREAD_ROWS


#: a torch model with at most this many parameters is served with one torch intra-op thread
SMALL_TORCH_MODEL_PARAMETERS = 10_000_000


def serve_small_torch_model_on_one_thread(parameters: int) -> bool:
    """In a scoring process, give torch one intra-op thread when the model is small; True if it did.

    A small model's forward pass on a few rows is microseconds of arithmetic per operation, but torch's
    pool splits e.g. every ``layer_norm`` over its threads and then waits for them all: on the 2 shared
    cores of our benchmark machine a tiny BERT took 20-65 ms per one-row request with the default two
    threads and 2.1 ms on one (same outputs: the thread count only splits the work). The setting is
    process-wide (worker threads created later inherit it), so it is only made by ``prepare_for_serving``,
    in a process that serves this one model.
    """
    if parameters > SMALL_TORCH_MODEL_PARAMETERS:
        return False
    import torch  # the model's own backend, already loaded

    torch.set_num_threads(1)
    return True
