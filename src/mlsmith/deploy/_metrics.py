"""Prometheus metrics of a served bundle, in a registry of the app's own.

With several server processes (``serve --workers N``) each process counts into files under
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode, set up by ``serve``), and
``/metrics``, whichever process answers it, reports the sums over all of them.
"""

from __future__ import annotations

import os
import time
from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["MULTIPROC_ENV", "ServeMetrics"]

#: The environment variable that puts prometheus_client in multiprocess mode (read at its import).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

ROUTES = ("/predict", "/health", "/metadata", "/metrics")
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServeMetrics:
    """Request counts, latencies and errors per route; predictions per role and class."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("mlsmith_requests_total", "HTTP requests by route and status code.",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("mlsmith_request_latency_seconds", "Request latency by route.", ["route"],
                                 buckets=_BUCKETS, registry=self.registry)
        self.errors = Counter("mlsmith_errors_total", "Failed requests by route and kind (client or server).",
                              ["route", "kind"], registry=self.registry)
        self.predictions = Counter("mlsmith_predictions_total", "Records scored by role and predicted class.",
                                   ["role", "predicted"], registry=self.registry)
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        self._children: dict[tuple[str, int], tuple] = {}
        self._predicted: dict[tuple[str, object], Counter] = {}

    def observe(self, path: str, status: int, started: float) -> None:
        """Count and time one request (``started`` from :func:`time.perf_counter`)."""
        route = path if path in ROUTES else "other"
        key = (route, status)
        children = self._children.get(key)
        if children is None:  # labelled children looked up once per route and status
            kind = "server" if status >= 500 else "client" if status >= 400 else None
            children = self._children[key] = (self.requests.labels(route, str(status)), self.latency.labels(route),
                                              self.errors.labels(route, kind) if kind else None)
        requests, latency, errors = children
        requests.inc()
        latency.observe(time.perf_counter() - started)
        if errors is not None:
            errors.inc()

    def count_predictions(self, role: str, results: list[dict], classification: bool) -> None:
        """Count scored records by role and, for a classifier, by predicted class."""
        counts: dict = {}
        if not classification:
            counts[""] = len(results)
        elif len(results) == 1:
            counts[results[0]["prediction"]] = 1
        else:
            for result in results:
                value = result["prediction"]
                counts[value] = counts.get(value, 0) + 1
        for value, n in counts.items():
            key = (role, value)
            child = self._predicted.get(key)
            if child is None:
                child = self._predicted[key] = self.predictions.labels(role, str(value))
            child.inc(n)

    def render(self) -> bytes:
        """The Prometheus text exposition (of every server process), with the class shares."""
        if self.multiprocess_dir is None:
            families = list(self.registry.collect())
        else:
            merged = CollectorRegistry()
            MultiProcessCollector(merged, self.multiprocess_dir)
            families = list(merged.collect())
        return generate_latest(_Families([*families, _shares(families)]))


class _Families:
    """Collected metric families, in the shape ``generate_latest`` reads."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def _shares(families: list[Metric]) -> GaugeMetricFamily:
    totals: dict[str, float] = {}
    for family in families:
        for sample in family.samples:
            if (sample.name == "mlsmith_predictions_total" and sample.labels.get("role") == "champion"
                    and sample.labels.get("predicted")):
                totals[sample.labels["predicted"]] = totals.get(sample.labels["predicted"], 0.0) + sample.value
    shares = GaugeMetricFamily("mlsmith_predicted_class_share", "Share of the champion's predictions per class.",
                               labels=["predicted"])
    n = sum(totals.values())
    for label in sorted(totals):
        shares.add_metric([label], totals[label] / n)
    return shares
