"""GPU system metrics through NVML (``nvidia-ml-py``, extra ``bakehouse[gpu]``), under MLflow's names:
``gpu_<i>_utilization_percentage``, ``gpu_<i>_memory_usage_megabytes``, ``gpu_<i>_memory_usage_percentage``,
``gpu_<i>_power_usage_watts``, ``gpu_<i>_power_usage_percentage``.

Without an NVIDIA GPU (or without nvidia-ml-py, or without the driver's library) the reason is logged once per
process and system metrics go on with CPU, memory, disk and network only.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from typing import Any

logger = logging.getLogger(__name__)

_said = threading.Event()  # the "no GPU metrics" note is logged once per process


def _say_once(reason: str) -> None:
    if not _said.is_set():
        _said.set()
        logger.info("GPU metrics are not logged: %s", reason)


class NvmlReader:
    """One NVML session over every GPU the driver reports."""

    def __init__(self, pynvml: Any) -> None:
        self.pynvml = pynvml
        self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]

    def sample(self) -> dict[str, float]:
        nvml = self.pynvml
        values: dict[str, float] = {}
        for i, handle in enumerate(self.handles):
            try:
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                values[f"gpu_{i}_memory_usage_percentage"] = round(memory.used / memory.total * 100, 1)
                values[f"gpu_{i}_memory_usage_megabytes"] = memory.used / 1e6
                values[f"gpu_{i}_utilization_percentage"] = float(
                    nvml.nvmlDeviceGetUtilizationRates(handle).gpu
                )
                power = nvml.nvmlDeviceGetPowerUsage(handle)
                values[f"gpu_{i}_power_usage_watts"] = power / 1000
                values[f"gpu_{i}_power_usage_percentage"] = (
                    power / nvml.nvmlDeviceGetEnforcedPowerLimit(handle) * 100
                )
            except nvml.NVMLError as exc:  # one counter a device does not support: the others still count
                logger.debug("GPU %d: NVML could not read a metric: %s", i, exc)
        return values


def gpu_reader() -> NvmlReader | None:
    """An NVML reader when an NVIDIA GPU is there, else None (the reason logged once)."""
    if importlib.util.find_spec("pynvml") is None:
        _say_once("nvidia-ml-py is not installed (pip install 'bakehouse[gpu]')")
        return None
    import pynvml  # optional: only where GPU metrics can be read

    try:
        pynvml.nvmlInit()
        reader = NvmlReader(pynvml)
    except pynvml.NVMLError as exc:
        _say_once(f"no NVIDIA GPU found ({exc})")
        return None
    if not reader.handles:
        _say_once("NVML reports no GPU")
        return None
    return reader
