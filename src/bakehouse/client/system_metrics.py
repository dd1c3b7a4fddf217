"""System metrics of a run (``start_run(log_system_metrics=True)``), under MLflow's names.

A thread samples CPU, memory, disk and network every ``sampling_interval`` seconds and, every
``samples_before_logging`` samples, logs their means as ``system/cpu_utilization_percentage``,
``system/system_memory_usage_megabytes``, ... at an increasing step (MLflow's metric names and cadence, so
its UI's "System metrics" charts read them). On Linux the figures come straight from ``/proc`` and
``statvfs``: no psutil needed. Elsewhere psutil is used when installed; without it nothing is logged and one
warning says why. With an NVIDIA GPU, NVML adds MLflow's ``gpu_<i>_*`` metrics (:mod:`.gpu_metrics`).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bakehouse import settings
from bakehouse.client.gpu_metrics import NvmlReader, gpu_reader
from bakehouse.clock import now_ms

logger = logging.getLogger(__name__)

PREFIX = "system/"
_MB = 1e6

_enabled: bool | None = None  # enable_/disable_system_metrics_logging(); None: the environment decides
_sampling_interval: float | None = None
_samples_before_logging: int | None = None
_node_id: str | None = None


# ------------------------------------------------------------------------------------ settings
def enable_system_metrics_logging() -> None:
    global _enabled
    _enabled = True


def disable_system_metrics_logging() -> None:
    global _enabled
    _enabled = False


def set_system_metrics_sampling_interval(interval: float | None) -> None:
    global _sampling_interval
    _sampling_interval = interval


def set_system_metrics_samples_before_logging(samples: int | None) -> None:
    global _samples_before_logging
    _samples_before_logging = samples


def set_system_metrics_node_id(node_id: str | None) -> None:
    """Several machines logging to one run: each names itself (``system/<node_id>/...``)."""
    global _node_id
    _node_id = node_id


def wanted(log_system_metrics: bool | None) -> bool:
    if log_system_metrics is not None:
        return log_system_metrics
    if _enabled is not None:
        return _enabled
    return settings.env_flag("ENABLE_SYSTEM_METRICS_LOGGING")


# -------------------------------------------------------------------------------------- sampling
class _ProcReader:
    """Linux counters, read without psutil."""

    def __init__(self) -> None:
        self._cpu = self._cpu_times()
        self._net0 = self._net_bytes()

    @staticmethod
    def _cpu_times() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait, as psutil counts it
        return sum(fields[:8]), idle  # guest time is already inside user/nice

    @staticmethod
    def _net_bytes() -> tuple[int, int]:
        received = sent = 0
        with open("/proc/net/dev") as fh:
            for line in fh.readlines()[2:]:
                values = line.split(":", 1)[1].split()
                received += int(values[0])
                sent += int(values[8])
        return received, sent

    def cpu_percent(self) -> float:
        total, idle = self._cpu_times()
        d_total, d_idle = total - self._cpu[0], idle - self._cpu[1]
        self._cpu = (total, idle)
        return 0.0 if d_total <= 0 else round(100.0 * (d_total - d_idle) / d_total, 1)

    @staticmethod
    def memory() -> tuple[float, float]:
        info: dict[str, int] = {}
        with open("/proc/meminfo") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                info[key] = int(rest.split()[0]) * 1024
        total = info["MemTotal"]
        used = total - info.get("MemAvailable", info.get("MemFree", 0))
        return used / _MB, 100.0 * used / total

    def network(self) -> tuple[float, float]:
        received, sent = self._net_bytes()
        return (received - self._net0[0]) / _MB, (sent - self._net0[1]) / _MB


class _PsutilReader:
    def __init__(self, psutil: Any) -> None:
        self.psutil = psutil
        psutil.cpu_percent()  # the first call only starts the measurement
        counters = psutil.net_io_counters()
        self._net0 = (counters.bytes_recv, counters.bytes_sent)

    def cpu_percent(self) -> float:
        return float(self.psutil.cpu_percent())

    def memory(self) -> tuple[float, float]:
        memory = self.psutil.virtual_memory()
        return memory.used / _MB, 100.0 * memory.used / memory.total

    def network(self) -> tuple[float, float]:
        counters = self.psutil.net_io_counters()
        return (counters.bytes_recv - self._net0[0]) / _MB, (counters.bytes_sent - self._net0[1]) / _MB


def _reader() -> Any | None:
    if sys.platform.startswith("linux") and os.path.exists("/proc/stat"):
        return _ProcReader()
    try:
        import psutil
    except ImportError:
        logger.warning("System metrics are not logged: this platform needs `pip install psutil` for them.")
        return None
    return _PsutilReader(psutil)


def sample(reader: Any, gpus: NvmlReader | None = None) -> dict[str, float]:
    """One reading of every metric (without the ``system/`` prefix)."""
    memory_mb, memory_percent = reader.memory()
    disk = os.statvfs(os.sep)
    used = (disk.f_blocks - disk.f_bfree) * disk.f_frsize
    free = disk.f_bavail * disk.f_frsize
    received, sent = reader.network()
    return (gpus.sample() if gpus is not None else {}) | {
        "cpu_utilization_percentage": reader.cpu_percent(),
        "system_memory_usage_megabytes": memory_mb,
        "system_memory_usage_percentage": memory_percent,
        "disk_usage_percentage": 100.0 * used / (used + free) if used + free else 0.0,
        "disk_usage_megabytes": used / _MB,
        "disk_available_megabytes": free / _MB,
        "network_receive_megabytes": received,
        "network_transmit_megabytes": sent,
    }


_CUMULATIVE = ("network_receive_megabytes", "network_transmit_megabytes")  # totals since start: the latest


def aggregate(samples: list[dict[str, float]]) -> dict[str, float]:
    values: dict[str, list[float]] = defaultdict(list)
    for one in samples:
        for key, value in one.items():
            values[key].append(value)
    return {k: round(v[-1] if k in _CUMULATIVE else sum(v) / len(v), 1) for k, v in values.items()}


# ------------------------------------------------------------------------------------- monitor
class SystemMetricsMonitor:
    """The sampling thread of one run; ``stop()`` ends it within a moment."""

    def __init__(
        self, run_id: str, log: Callable[[dict[str, float], int], None], resume_step: int = 0
    ) -> None:
        self.run_id = run_id
        self._log = log
        self.interval = _sampling_interval or settings.env_float("SYSTEM_METRICS_SAMPLING_INTERVAL", 10.0)
        self.samples_before_logging = max(
            1, int(_samples_before_logging or settings.env_float("SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING", 1))
        )
        node = _node_id or settings.env("SYSTEM_METRICS_NODE_ID")
        self.prefix = PREFIX + (f"{node}/" if node else "")
        self.step = resume_step
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        reader = _reader()
        if reader is None:
            return
        self._thread = threading.Thread(
            target=self._run, args=(reader, gpu_reader()), name="bakehouse-system-metrics", daemon=True
        )
        self._thread.start()

    def _run(self, reader: Any, gpus: NvmlReader | None) -> None:
        while not self._stop.is_set():
            samples = []
            for _ in range(self.samples_before_logging):
                if self._stop.wait(self.interval):
                    return
                samples.append(sample(reader, gpus))
            try:
                self._log({self.prefix + k: v for k, v in aggregate(samples).items()}, self.step)
            except Exception as exc:  # noqa: BLE001 - a monitoring hiccup must never break the training run
                logger.warning("Could not log system metrics for run %s: %s", self.run_id, exc)
            self.step += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def start_for_run(client: Any, run_id: str, resuming: bool) -> SystemMetricsMonitor:
    """Start logging system metrics to ``run_id``; a resumed run continues after its last system step."""
    from bakehouse.entities import Metric

    step = 0
    if resuming:  # the latest point of each key carries its step
        steps = [m.step for m in client.get_run(run_id).data.metric_points if m.key.startswith(PREFIX)]
        step = max(steps) + 1 if steps else 0

    def log(metrics: dict[str, float], at_step: int) -> None:
        now = now_ms()
        client.log_batch(run_id, metrics=[Metric(k, v, now, at_step) for k, v in metrics.items()])

    monitor = SystemMetricsMonitor(run_id, log, step)
    monitor.start()
    return monitor
