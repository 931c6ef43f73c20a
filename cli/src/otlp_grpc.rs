//! OTLP/gRPC traces in (`opentelemetry.proto.collector.trace.v1.TraceService/Export`, issue 15):
//! what senders configured with `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` send. tonic's generated
//! service (from opentelemetry-proto), merged into the sidecar's router, so it is served on
//! the same listeners as OTLP/HTTP (HTTP/2, with TLS when configured) and behind the same
//! token. Answers follow the OTLP specification: a partial success names the spans refused;
//! `UNAVAILABLE` (retryable) when the pipeline's queue is full; `INVALID_ARGUMENT` is tonic's
//! for a body that does not decode.

use std::sync::Arc;

use agentrace::{Error, ReceivedTraces, Tracer};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

/// The trace service, feeding the tracer.
struct TraceReceiver {
    tracer: Arc<Tracer>,
}

#[tonic::async_trait]
impl TraceService for TraceReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let traces = ReceivedTraces::from(request.into_inner());
        let partial_success = (traces.refused() > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: traces.refused() as i64,
            error_message: traces.first_refusal().unwrap_or_default().to_string(),
        });
        match self.tracer.receive(traces) {
            Ok(()) => Ok(Response::new(ExportTraceServiceResponse {
                partial_success,
            })),
            Err(error @ (Error::QueueFull | Error::ShutDown)) => {
                Err(Status::unavailable(error.to_string()))
            }
            Err(error) => Err(Status::internal(error.to_string())),
        }
    }
}

/// The path under which gRPC calls of the trace service arrive (`/<service>/<method>`).
pub fn path() -> String {
    use tonic::server::NamedService as _;
    format!("/{}/{{*method}}", TraceServiceServer::<TraceReceiver>::NAME)
}

/// The trace service, to route at [`path`]: gzip accepted, requests up to `max_request_bytes`
/// decoded.
pub fn service(
    tracer: Arc<Tracer>,
    max_request_bytes: usize,
) -> TraceServiceServer<impl TraceService> {
    TraceServiceServer::new(TraceReceiver { tracer })
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_request_bytes)
}
