"""Export a fixed set of metrics through the OpenTelemetry Python SDK's OTLP exporter.

Usage: otel_metrics.py grpc|http ENDPOINT

Driven by tests/metrics_ingest.rs, which then checks the Prometheus series Pharos made of them.
"""
import sys

from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource


def main() -> int:
    protocol, endpoint = sys.argv[1], sys.argv[2]
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        exporter = OTLPMetricExporter(endpoint=endpoint, insecure=True)
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        exporter = OTLPMetricExporter(endpoint=endpoint.rstrip("/") + "/v1/metrics")
    resource = Resource.create(
        {
            "service.name": "checkout",
            "service.namespace": "shop",
            "service.instance.id": "pod-1",
            "deployment.environment": "test",
        }
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = provider.get_meter("pharos.test", "1.2.3")

    requests = meter.create_counter("http.server.requests", unit="{request}", description="Requests served.")
    requests.add(3, {"http.method": "GET", "http.status_code": 200})
    requests.add(1, {"http.method": "POST", "http.status_code": 500})

    duration = meter.create_histogram("http.server.request.duration", unit="s", description="Request latency.")
    for value in (0.004, 0.02, 0.3, 7.0):
        duration.record(value, {"http.method": "GET"})

    in_flight = meter.create_up_down_counter("http.server.active_requests", unit="{request}")
    in_flight.add(5)
    in_flight.add(-2)

    meter.create_observable_gauge(
        "system.cpu.utilization",
        callbacks=[lambda options: [Observation(0.25, {"cpu": "0"})]],
        unit="1",
    )
    memory = meter.create_up_down_counter("system.memory.usage", unit="By")
    memory.add(1024, {"state": "used"})

    ok = provider.force_flush(timeout_millis=10_000)
    provider.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
