"""Emit log records through Python's logging module and the OpenTelemetry SDK's OTLP log exporter,
inside a span so the records carry a trace context.

Usage: otel_logs.py grpc|http ENDPOINT RUN_ID

Prints one JSON line: {"trace_id": "<32 hex>", "span_id": "<16 hex>"} of the span the records were
emitted in. Driven by tests/logs_ingest.rs, which then searches Pharos for them.
"""
import json
import logging
import sys

from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider


def main() -> int:
    protocol, endpoint, run_id = sys.argv[1], sys.argv[2], sys.argv[3]
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        exporter = OTLPLogExporter(endpoint=endpoint, insecure=True)
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        exporter = OTLPLogExporter(endpoint=endpoint.rstrip("/") + "/v1/logs")
    resource = Resource.create({"service.name": "checkout", "service.namespace": "shop", "deployment.environment": "test"})
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    handler = LoggingHandler(level=logging.DEBUG, logger_provider=provider)
    log = logging.getLogger("pharos.test")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(handler)

    tracer = TracerProvider(resource=resource).get_tracer("pharos.test")
    with tracer.start_as_current_span("place-order") as span:
        context = span.get_span_context()
        log.info("order %s placed by customer %s", f"{run_id}-1001", "c-42", extra={"order.id": f"{run_id}-1001", "cart.items": 3})
        log.warning("inventory low for sku %s", "sku-7", extra={"sku": "sku-7"})
        log.error("payment gateway timeout for order %s", f"{run_id}-1002", extra={"order.id": f"{run_id}-1002"})
    log.debug("outside any span %s", run_id)

    ok = provider.force_flush(10_000)
    provider.shutdown()
    if not ok:
        print("force_flush failed", file=sys.stderr)
        return 1
    print(json.dumps({"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
