"""Emit one trace across two services through the OpenTelemetry SDK's OTLP span exporter.

Usage: otel_traces.py grpc|http ENDPOINT RUN_ID

The trace: `frontend` serves `GET /cart` (server span, the root), calls checkout (client span);
`checkout` serves `POST /checkout` (server span, child of the client span) with an event, a link to
a span of another trace and an ERROR status. Both services export through their own provider, as
two processes would.

Prints one JSON object describing what was sent (ids in hex, times in ns since the epoch), which
tests/traces.rs compares with what Pharos' Jaeger and Tempo APIs return.
"""
import json
import sys

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode


def exporter(protocol: str, endpoint: str):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint, insecure=True)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")


def provider(service: str, protocol: str, endpoint: str) -> TracerProvider:
    resource = Resource.create({"service.name": service, "service.namespace": "shop", "deployment.environment": "test"})
    p = TracerProvider(resource=resource)
    p.add_span_processor(BatchSpanProcessor(exporter(protocol, endpoint)))
    return p


def describe(span) -> dict:
    context = span.get_span_context()
    return {
        "span_id": format(context.span_id, "016x"),
        "name": span.name,
        "start": span.start_time,
        "end": span.end_time,
        "parent": format(span.parent.span_id, "016x") if span.parent else None,
    }


def main() -> int:
    protocol, endpoint, run_id = sys.argv[1], sys.argv[2], sys.argv[3]
    frontend = provider("frontend", protocol, endpoint)
    checkout = provider("checkout", protocol, endpoint)
    front = frontend.get_tracer("pharos.frontend", "1.2.3")
    back = checkout.get_tracer("pharos.checkout", "0.9.0")

    with front.start_as_current_span("warmup") as warmup:
        pass
    with front.start_as_current_span(
        "GET /cart",
        context=trace.set_span_in_context(trace.INVALID_SPAN),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "GET", "http.route": "/cart", "run.id": run_id, "http.response.status_code": 500},
    ) as root:
        with front.start_as_current_span("call checkout", kind=SpanKind.CLIENT, attributes={"peer.service": "checkout"}) as client:
            with back.start_as_current_span(
                "POST /checkout",
                context=trace.set_span_in_context(client),
                kind=SpanKind.SERVER,
                attributes={"order.id": f"{run_id}-1001", "cart.items": 3, "cart.total": 12.5, "retry": False},
                links=[Link(warmup.get_span_context(), {"link.reason": "warm cache"})],
            ) as server:
                server.add_event("payment.declined", {"card": "visa", "amount": 12.5})
                server.set_status(Status(StatusCode.ERROR, "card declined"))

    ok = checkout.force_flush(10_000) and frontend.force_flush(10_000)
    checkout.shutdown()
    frontend.shutdown()
    if not ok:
        print("force_flush failed", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "trace_id": format(root.get_span_context().trace_id, "032x"),
                "warmup_trace_id": format(warmup.get_span_context().trace_id, "032x"),
                "warmup_span_id": format(warmup.get_span_context().span_id, "016x"),
                "root": describe(root),
                "client": describe(client),
                "server": describe(server),
                "event_time": server.events[0].timestamp,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
