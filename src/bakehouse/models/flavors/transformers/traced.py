"""One text through a served small text classifier: its model replayed as a torch trace.

For a small model the pipeline's Python costs more than its arithmetic: one text through the test pipeline (a
one-layer BERT) takes ~0.75 ms, of which the model call is ~0.45 ms of Hugging Face module and ``ModelOutput``
bookkeeping and ~0.2 ms the pipeline's ``__call__`` (parameter sanitising, an ``inspect.signature`` of the
model's forward on every call). Here the text goes through the pipeline's own ``preprocess``, a
``torch.jit.trace`` of the model's logits for that input's shape, and the pipeline's own ``postprocess``
(~0.25 ms in all).

A trace is only as general as the call it recorded, so it is used only where it is the same computation:
encoder architectures without Python branches on tensor values (:data:`TRACEABLE_MODEL_TYPES`, the
package's own classes), one text (a batch of one, no padding: the attention mask is all ones), one trace per
input shape (at most
:data:`MAX_TRACED_SHAPES`), and a trace is kept only when, on the call that made it, its logits equal the
model's own bit for bit on every verification run; otherwise that shape stays on the pipeline's path. Only
models small enough to be served on one torch thread qualify (``small_batches``): tracing one takes ~0.1 s,
paid by the first request of each input length.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)

#: input shapes traced per model at most; texts of other lengths take the pipeline's path
MAX_TRACED_SHAPES = 16
#: the traced graph is replayed this many times when it is made, and each result must equal the model's
VERIFY_RUNS = 3
_MISSING = object()
#: tracing reads every attribute of the model, ``loss_function`` included, which warns about a loss type
#: that only matters for training
_TRANSFORMERS_MODELING_LOGGER = "transformers.modeling_utils"


#: encoder families whose forward pass has no Python branch on tensor values (Hugging Face's TorchScript
#: support covers them): for one unpadded text, a trace of one input shape is the same computation for
#: every text of that length. Other architectures, and code loaded from outside the package, are not traced.
TRACEABLE_MODEL_TYPES = frozenset({"bert", "distilbert", "roberta", "xlm-roberta", "albert", "electra"})


def traceable(pipeline: Any) -> bool:
    """True for a pipeline on torch whose model is one of :data:`TRACEABLE_MODEL_TYPES`, as shipped by
    transformers, and whose default stage parameters can be read (to call its stages in turn)."""
    model = getattr(pipeline, "model", None)
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    return (
        getattr(pipeline, "framework", "pt") == "pt"
        and model_type in TRACEABLE_MODEL_TYPES
        and type(model).__module__.startswith("transformers.models.")
        and all(
            isinstance(getattr(pipeline, name, None), dict)
            for name in ("_preprocess_params", "_postprocess_params")
        )
    )


class TracedTextClassifier:
    """Classifies one text through a per-shape trace of the pipeline's model (see module doc)."""

    def __init__(self, pipeline: Any) -> None:
        self._pipeline = pipeline
        self._traces: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    @property
    def traced_shapes(self) -> list[tuple[Any, ...]]:
        """The input shapes answered by a trace (not those that stayed on the pipeline's path)."""
        return [key for key, trace in list(self._traces.items()) if trace is not None]

    def classify(self, text: str) -> list[dict[str, Any]] | None:
        """What ``pipeline(text)`` gives (a list of one record), or None for the pipeline's own path."""
        pipeline = self._pipeline
        encoding = pipeline.preprocess(text, **pipeline._preprocess_params)
        names = tuple(encoding.keys())
        tensors = tuple(encoding[name] for name in names)
        mask = encoding.get("attention_mask")
        if not tensors or tensors[0].shape[0] != 1 or (mask is not None and not bool(mask.all())):
            return None
        key = (names, *(tuple(t.shape) for t in tensors))
        trace = self._traces.get(key, _MISSING)
        if trace is _MISSING:
            with self._lock:
                if key not in self._traces:
                    if len(self._traces) >= MAX_TRACED_SHAPES:
                        return None
                    self._traces[key] = self._trace(names, tensors, encoding)
                trace = self._traces[key]
        if trace is None:
            return None
        return [pipeline.postprocess({"logits": self._run(trace, tensors)}, **pipeline._postprocess_params)]

    def _run(self, trace: Any, tensors: tuple[Any, ...]) -> Any:
        import torch

        with torch.inference_mode():
            return trace(*tensors)

    def _trace(self, names: tuple[str, ...], tensors: tuple[Any, ...], encoding: Any) -> Any:
        """A trace giving the model's own logits for these tensors on every verification run, else None."""
        import torch

        with torch.inference_mode():
            expected = self._pipeline.model(**encoding).logits
        try:
            with warnings.catch_warnings(), torch.inference_mode(), _quiet(_TRANSFORMERS_MODELING_LOGGER):
                warnings.simplefilter("ignore")  # TracerWarnings on shapes: one trace per shape
                jit_trace: Any = torch.jit.trace  # torch leaves it unannotated
                trace = jit_trace(_logits_module(self._pipeline.model, names), tensors, check_trace=False)
            for _ in range(VERIFY_RUNS):
                got = self._run(trace, tensors)
                if got.dtype != expected.dtype or not torch.equal(got, expected):
                    logger.debug("Traced model differs from the pipeline's for input %s", names)
                    return None
        except Exception as e:  # noqa: BLE001 - an operation torch cannot trace: the pipeline's path serves
            logger.debug("Model not traced for input %s: %s", names, e)
            return None
        return trace


def _logits_module(model: Any, names: tuple[str, ...]) -> Any:
    """The model's logits from the encoding's tensors given by position, in ``names`` order (a trace takes
    positional tensors; the model takes them by name)."""
    import torch  # the pipeline's framework, already loaded

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, *tensors: Any) -> Any:
            return self.inner(**dict(zip(names, tensors, strict=True)), return_dict=False)[0]

    return Logits()


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """The named logger says nothing below ERROR meanwhile (callers hold the tracing lock)."""
    target = logging.getLogger(logger_name)
    level = target.level
    target.setLevel(logging.ERROR)
    try:
        yield
    finally:
        target.setLevel(level)
