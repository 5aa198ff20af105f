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

    def observe(self, path: str, status: int, started: float) -> None:
        route = path if path in ROUTES else "other"
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(time.perf_counter() - started)
        if status >= 500:
            self.errors.labels(route, "server").inc()
        elif status >= 400:
            self.errors.labels(route, "client").inc()

    def count_predictions(self, role: str, predictions: list, classification: bool) -> None:
        if not classification:
            self.predictions.labels(role, "").inc(len(predictions))
            return
        counts: dict[str, int] = {}
        for value in predictions:
            counts[str(value)] = counts.get(str(value), 0) + 1
        for label, n in counts.items():
            self.predictions.labels(role, label).inc(n)

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
