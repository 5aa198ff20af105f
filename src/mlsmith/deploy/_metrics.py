"""Prometheus metrics of a served bundle, in a registry of the app's own."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["ServeMetrics"]

ROUTES = ("/predict", "/health", "/metadata", "/metrics")
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServeMetrics:
    """Request counts, latencies and errors per route; predictions per role and class."""

    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("mlsmith_requests_total", "HTTP requests by route and status code.",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("mlsmith_request_latency_seconds", "Request latency by route.", ["route"],
                                 buckets=_BUCKETS, registry=self.registry)
        self.errors = Counter("mlsmith_errors_total", "Failed requests by route and kind (client or server).",
                              ["route", "kind"], registry=self.registry)
        self.predictions = Counter("mlsmith_predictions_total", "Records scored by role and predicted class.",
                                   ["role", "predicted"], registry=self.registry)
        self.share = Gauge("mlsmith_predicted_class_share", "Share of the champion's predictions per class.",
                           ["predicted"], registry=self.registry)
        self._children: dict[tuple[str, int], tuple] = {}
        self._predicted: dict[tuple[str, object], object] = {}

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
        """The Prometheus text exposition, with class shares brought up to date."""
        totals = {}
        for metric in self.predictions.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.labels["role"] == "champion" and sample.labels["predicted"]:
                    totals[sample.labels["predicted"]] = sample.value
        n = sum(totals.values())
        for label, value in totals.items():
            self.share.labels(label).set(value / n)
        return generate_latest(self.registry)
