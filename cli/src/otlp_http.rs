//! OTLP/HTTP traces in (`POST /v1/traces`, issue 15): what any framework's own OpenTelemetry
//! exporter sends when `OTEL_EXPORTER_OTLP_ENDPOINT` points at the sidecar. Bodies are
//! `application/x-protobuf` or `application/json`, optionally gzip-compressed; answers follow
//! the OTLP/HTTP specification: `ExportTraceServiceResponse` (with a partial success naming the
//! spans refused) in the request's encoding; a `google.rpc.Status` body on errors; 503 with
//! `Retry-After` when the pipeline's queue is full, so that the sender retries instead of
//! losing the spans; 400 for a body that is not a trace request (not retryable).

use std::io::Read as _;

use agentrace::{Error, OtlpEncoding, ReceivedTraces, Tracer};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message as _;

/// Seconds a sender is asked to wait before retrying when the queue is full.
const RETRY_AFTER_SECONDS: &str = "1";

/// `google.rpc.Status`, the error body OTLP/HTTP answers carry (code and message; no details).
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
struct Status {
    /// A `google.rpc.Code`.
    #[prost(int32, tag = "1")]
    code: i32,
    /// What went wrong, for a person.
    #[prost(string, tag = "2")]
    message: String,
}

/// `google.rpc.Code` values used here.
const INVALID_ARGUMENT: i32 = 3;
const UNAVAILABLE: i32 = 14;

/// Handles one `POST /v1/traces` body (the size limit and the token were checked before).
pub fn receive(tracer: &Tracer, headers: &HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let encoding = if content_type.starts_with("application/x-protobuf") {
        OtlpEncoding::Protobuf
    } else if content_type.starts_with("application/json") {
        OtlpEncoding::Json
    } else {
        return status(
            OtlpEncoding::Json,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID_ARGUMENT,
            format!(
                "send OTLP traces as `application/x-protobuf` or `application/json` (got \
                 `{content_type}`)"
            ),
        );
    };
    let body = match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
    {
        None | Some("identity") => body.to_vec(),
        Some("gzip") => {
            let mut plain = Vec::new();
            if let Err(e) = flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut plain) {
                return status(
                    encoding,
                    StatusCode::BAD_REQUEST,
                    INVALID_ARGUMENT,
                    format!("the body is not valid gzip: {e}"),
                );
            }
            plain
        }
        Some(other) => {
            return status(
                encoding,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                INVALID_ARGUMENT,
                format!("Content-Encoding `{other}` is not supported; use gzip or none"),
            );
        }
    };
    let traces = match ReceivedTraces::decode(&body, encoding) {
        Ok(traces) => traces,
        Err(e) => {
            return status(
                encoding,
                StatusCode::BAD_REQUEST,
                INVALID_ARGUMENT,
                e.to_string(),
            );
        }
    };
    let partial_success = (traces.refused() > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: traces.refused() as i64,
        error_message: traces.first_refusal().unwrap_or_default().to_string(),
    });
    match tracer.receive(traces) {
        Ok(()) => {
            let answer = ExportTraceServiceResponse { partial_success };
            let body = match encoding {
                OtlpEncoding::Protobuf => answer.encode_to_vec(),
                OtlpEncoding::Json => serde_json::to_vec(&answer).unwrap_or_default(),
            };
            with_type(encoding, StatusCode::OK, body)
        }
        Err(error @ (Error::QueueFull | Error::ShutDown)) => {
            let mut response = status(
                encoding,
                StatusCode::SERVICE_UNAVAILABLE,
                UNAVAILABLE,
                error.to_string(),
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
            response
        }
        Err(error) => status(
            encoding,
            StatusCode::INTERNAL_SERVER_ERROR,
            UNAVAILABLE,
            error.to_string(),
        ),
    }
}

/// An error answer: a `google.rpc.Status` in `encoding`.
fn status(encoding: OtlpEncoding, http: StatusCode, code: i32, message: String) -> Response {
    let status = Status { code, message };
    let body = match encoding {
        OtlpEncoding::Protobuf => status.encode_to_vec(),
        OtlpEncoding::Json => serde_json::to_vec(&status).unwrap_or_default(),
    };
    with_type(encoding, http, body)
}

fn with_type(encoding: OtlpEncoding, http: StatusCode, body: Vec<u8>) -> Response {
    let content_type = match encoding {
        OtlpEncoding::Protobuf => "application/x-protobuf",
        OtlpEncoding::Json => "application/json",
    };
    (http, [(header::CONTENT_TYPE, content_type)], body).into_response()
}
