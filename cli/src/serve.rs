//! `agentrace serve`: the sidecar. Agent hosts in any language send lifecycle events over HTTP
//! as JSON (the same objects as the JSON-lines form, docs/events.md), one or a batch per
//! request; the sidecar feeds them to the same pipeline as the library (mapper, policies,
//! OTLP). Starts are answered with the span's ids and W3C traceparent. The API is described in
//! docs/openapi.json. It also takes other producers' OTLP traces, over HTTP (`crate::otlp_http`)
//! and gRPC (`crate::otlp_grpc`), on every address it listens on (docs/otlp-in.md).
//!
//! Defaults are the safe ones: loopback only, a request-size cap, a bound on requests served at
//! once, a bearer token when one is configured, and TLS (mutual TLS with a client CA) when a
//! certificate is given. The server is axum-server, which adds TLS to axum's router. Each event of a batch stands alone: a bad
//! one is answered with its reason while the others go through.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentrace::events::EventLine;
use agentrace::{Lifecycle, Parent, SpanId, TraceId, Tracer};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value as Json, json};

/// How the sidecar listens and what it accepts.
#[derive(Debug, Clone)]
pub struct SidecarSettings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The bearer token requests to `/v1/*` must carry; `None` accepts any request.
    pub token: Option<String>,
    /// Largest request body, in bytes.
    pub max_request_bytes: usize,
    /// Most requests handled at once; further ones wait.
    pub max_concurrent_requests: usize,
    /// Longest the shutdown flush may take.
    pub shutdown_timeout: Duration,
    /// TLS for the listener; plaintext when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// More addresses serving the same endpoints, for OTLP senders' defaults (4318 for
    /// OTLP/HTTP, 4317 for OTLP/gRPC).
    pub otlp_listen: Vec<OtlpListen>,
}

/// An address where OTLP senders are expected besides the main one.
#[derive(Debug, Clone, Copy)]
pub struct OtlpListen {
    /// What senders send there, for the messages: `OTLP/HTTP` or `OTLP/gRPC`.
    pub protocol: &'static str,
    /// The address.
    pub address: SocketAddr,
    /// Whether it was given explicitly: then failing to listen there is an error; a default
    /// address being taken (another collector on this machine) is only reported.
    pub explicit: bool,
}

/// Longest the requests in flight may take to finish once a shutdown is asked for.
const GRACE: Duration = Duration::from_secs(10);

/// Most open spans whose trace the sidecar remembers for answering children's starts.
const REMEMBERED_OPEN_SPANS: usize = 1 << 20;

struct Sidecar {
    tracer: Arc<Tracer>,
    token: Option<String>,
    /// Trace of each span started through the sidecar and not yet ended, so that a child's start
    /// (which names only its parent) can be answered with its traceparent.
    open: Mutex<HashMap<SpanId, TraceId>>,
}

/// Serves until SIGTERM or Ctrl-C, then stops accepting, finishes the requests in flight, and
/// flushes the pipeline.
pub fn run(tracer: Arc<Tracer>, settings: SidecarSettings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = std::net::TcpListener::bind(settings.listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
        listener.set_nonblocking(true)?;
        let scheme = if settings.tls.is_some() {
            "https"
        } else {
            "http"
        };
        eprintln!(
            "agentrace: listening on {scheme}://{}",
            listener.local_addr()?
        );
        let mut extra = Vec::new();
        for otlp in &settings.otlp_listen {
            match std::net::TcpListener::bind(otlp.address) {
                Ok(bound) => {
                    bound.set_nonblocking(true)?;
                    eprintln!(
                        "agentrace: {} traces on {scheme}://{}",
                        otlp.protocol,
                        bound.local_addr()?
                    );
                    extra.push(bound);
                }
                Err(e) if !otlp.explicit => eprintln!(
                    "agentrace: cannot listen for {} on {} ({e}); OTLP is still taken on {scheme}://{}",
                    otlp.protocol,
                    otlp.address,
                    listener.local_addr()?
                ),
                Err(e) => anyhow::bail!("cannot listen for {} on {}: {e}", otlp.protocol, otlp.address),
            }
        }
        let app = router(tracer.clone(), &settings);
        let handle = axum_server::Handle::new();
        let stopper = handle.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            stopper.graceful_shutdown(Some(GRACE));
        });
        let mut servers = tokio::task::JoinSet::new();
        for listener in std::iter::once(listener).chain(extra) {
            servers.spawn(serve_on(
                listener,
                app.clone(),
                handle.clone(),
                settings.tls.clone(),
            ));
        }
        while let Some(served) = servers.join_next().await {
            served??;
        }
        eprintln!("agentrace: shutting down, flushing");
        anyhow::Ok(())
    })?;
    tracer.shutdown(settings.shutdown_timeout)?;
    Ok(())
}

/// Serves `app` on `listener` (with TLS when configured) until `handle` shuts it down.
async fn serve_on(
    listener: std::net::TcpListener,
    app: Router,
    handle: axum_server::Handle<SocketAddr>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<()> {
    let app = app.into_make_service();
    match tls {
        Some(config) => {
            let config = axum_server::tls_rustls::RustlsConfig::from_config(config);
            axum_server::from_tcp_rustls(listener, config)?
                .handle(handle)
                .serve(app)
                .await?
        }
        None => {
            axum_server::from_tcp(listener)?
                .handle(handle)
                .serve(app)
                .await?
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                eprintln!("agentrace: cannot watch SIGTERM ({error}); Ctrl-C still stops");
                let _ = interrupt.await;
                return;
            }
        };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
}

fn router(tracer: Arc<Tracer>, settings: &SidecarSettings) -> Router {
    let state = Arc::new(Sidecar {
        tracer,
        token: settings.token.clone(),
        open: Mutex::new(HashMap::new()),
    });
    let api = Router::new()
        .route("/v1/events", post(events))
        .route("/v1/traces", post(otlp_traces))
        .route_service(
            &crate::otlp_grpc::path(),
            crate::otlp_grpc::service(state.tracer.clone(), settings.max_request_bytes),
        )
        .route("/v1/flush", post(flush))
        .route("/v1/stats", get(stats))
        .route("/v1/map", post(map))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    Router::new()
        .route("/healthz", get(health))
        .merge(api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(settings.max_request_bytes))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            settings.max_concurrent_requests.max(1),
        ))
        .with_state(state)
}

/// A JSON error answer: `{"error": message}`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint: see docs/openapi.json (POST /v1/events, POST /v1/traces (OTLP), \
         POST /v1/map, POST /v1/flush, GET /v1/stats, GET /healthz)",
    )
}

/// Equal in time whatever the position of the first difference.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

async fn authorize(State(state): State<Arc<Sidecar>>, request: Request, next: Next) -> Response {
    if let Some(token) = &state.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let verdict = match given {
            None => Some("this sidecar needs `Authorization: Bearer <token>`"),
            Some(given) if !same_secret(given.as_bytes(), token.as_bytes()) => {
                Some("the bearer token is not the one this sidecar was given")
            }
            Some(_) => None,
        };
        if let Some(message) = verdict {
            let mut response = error(StatusCode::UNAUTHORIZED, message);
            let headers = response.headers_mut();
            headers.insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            // The body is not read, so the server closes the connection after this answer; say
            // so, or a client that keeps connections open sends its next request into a closed
            // one (CI saw "Peer disconnected" on the request after a 401). Reading the body
            // instead would let a client without the token hold a request slot for as long as
            // it takes to send it.
            headers.insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            return response;
        }
    }
    next.run(request).await
}

async fn health() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

async fn stats(State(state): State<Arc<Sidecar>>) -> Response {
    let snapshot = state.tracer.stats();
    let counters: serde_json::Map<String, Json> = snapshot
        .rows()
        .into_iter()
        .map(|(name, attribute, value)| {
            let key = match attribute {
                Some((key, label)) => format!("{name}{{{key}={label}}}"),
                None => name.to_string(),
            };
            (key, json!(value))
        })
        .collect();
    axum::Json(json!({ "counters": counters, "recent_errors": snapshot.recent_errors }))
        .into_response()
}

async fn flush(State(state): State<Arc<Sidecar>>) -> Response {
    let tracer = state.tracer.clone();
    let flushed = tokio::task::spawn_blocking(move || tracer.flush(Duration::from_secs(30))).await;
    match flushed {
        Ok(Ok(())) => axum::Json(json!({ "flushed": true })).into_response(),
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, format!("flush: {e}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("flush: {e}")),
    }
}

/// A dry run of the mapper: `{"records": [agent-span, ...]}` in the records' JSON form (the
/// conformance vectors' form), the mapped batch back. Nothing is exported.
async fn map(
    State(state): State<Arc<Sidecar>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match json_body(&headers, body) {
        Ok(body) => body,
        Err(refusal) => return *refusal,
    };
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Request {
        records: Vec<agentrace::AgentRecord>,
    }
    let request: Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"records\": [agent-span, ...]}}: {e}"),
            );
        }
    };
    let tracer = state.tracer.clone();
    let mapped = tokio::task::spawn_blocking(move || {
        tracer.map_records(&request.records, Duration::from_secs(30))
    })
    .await;
    match mapped {
        Ok(Ok(batch)) => axum::Json(batch).into_response(),
        Ok(Err(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("map: {e}")),
    }
}

/// OTLP/HTTP traces from another producer (`crate::otlp_http`).
async fn otlp_traces(
    State(state): State<Arc<Sidecar>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match body {
        Ok(body) => crate::otlp_http::receive(&state.tracer, &headers, body),
        Err(rejection) => refusal(rejection),
    }
}

/// The JSON error answer for a body that could not be read (413 past the size limit, ...).
fn refusal(rejection: BytesRejection) -> Response {
    let status = rejection.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "the request body exceeds this sidecar's limit (--max-request-bytes); send less per \
         request"
            .to_string()
    } else {
        format!("cannot read the request body: {rejection}")
    };
    error(status, message)
}

/// The body of a request that says it is JSON and fits the size limit, or the JSON error
/// answer (413, 415, ...) for one that does not.
fn json_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, Box<Response>> {
    let body = body.map_err(|rejection| Box::new(refusal(rejection)))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json") {
        return Err(Box::new(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("send `Content-Type: application/json` (got `{content_type}`)"),
        )));
    }
    Ok(body)
}

async fn events(
    State(state): State<Arc<Sidecar>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match json_body(&headers, body) {
        Ok(body) => body,
        Err(refusal) => return *refusal,
    };
    let items = match serde_json::from_slice::<Json>(&body) {
        Ok(Json::Array(items)) => items,
        Ok(item @ Json::Object(_)) => vec![item],
        Ok(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "the body must be one event object or an array of event objects",
            );
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")),
    };
    let results: Vec<Json> = items.into_iter().map(|item| state.accept(item)).collect();
    let count = |status: &str| results.iter().filter(|r| r["status"] == status).count();
    let (accepted, rejected, dropped) = (count("accepted"), count("rejected"), count("dropped"));
    // The worst item decides: a rejected event is the caller's to fix (never retry the request:
    // the accepted ones went through); a dropped one may be sent again later.
    let status = if rejected > 0 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if dropped > 0 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let answer = json!({
        "accepted": accepted,
        "rejected": rejected,
        "dropped": dropped,
        "results": results,
    });
    (status, axum::Json(answer)).into_response()
}

impl Sidecar {
    /// Validates and queues one event; its entry in the answer.
    fn accept(&self, mut item: Json) -> Json {
        if let Err(reason) = self.complete_start(&mut item) {
            return json!({ "status": "rejected", "error": reason });
        }
        let event = match serde_json::from_value::<EventLine>(item)
            .map_err(|e| format!("invalid event: {e}"))
            .and_then(|line| line.into_lifecycle().map_err(|e| e.to_string()))
        {
            Ok(event) => event,
            Err(reason) => return json!({ "status": "rejected", "error": reason }),
        };
        let mut answer = json!({ "status": "accepted" });
        // Held across the report, so that the map changes only for events the pipeline took,
        // in the order it took them.
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let mut remember = None;
        let mut forget = None;
        match &event {
            Lifecycle::Start {
                span_id,
                trace_id,
                parent,
                ..
            } => {
                let trace = trace_id.or(match parent {
                    Parent::Local(parent) => open.get(parent).copied(),
                    Parent::Remote(context) => Some(context.trace_id),
                    Parent::Root => None,
                });
                answer["span_id"] = json!(span_id.to_string());
                if let Some(trace) = trace {
                    answer["trace_id"] = json!(trace.to_string());
                    answer["traceparent"] =
                        json!(agentrace::SpanContext::new(trace, *span_id).traceparent());
                    remember = Some((*span_id, trace));
                }
            }
            Lifecycle::End { span_id, .. } => forget = Some(*span_id),
            _ => {}
        }
        if !self.tracer.report(event) {
            // Dropped: the span did not start (or has not ended) in the pipeline, so the map
            // keeps no entry for it (and keeps the one of a span whose end was dropped).
            return json!({
                "status": "dropped",
                "error": "the pipeline's queue is full; send this event again later",
            });
        }
        if let Some((span_id, trace)) = remember
            && open.len() < REMEMBERED_OPEN_SPANS
        {
            open.insert(span_id, trace);
        }
        if let Some(span_id) = forget {
            open.remove(&span_id);
        }
        answer
    }

    /// Gives a start without `span_id` a new one, and a root start without `trace_id` a new
    /// trace, so that the answer can carry both.
    fn complete_start(&self, item: &mut Json) -> Result<(), String> {
        let Some(object) = item.as_object_mut() else {
            return Err("an event is a JSON object".into());
        };
        if object.get("type").and_then(Json::as_str) != Some("start") {
            return Ok(());
        }
        if !object.contains_key("span_id") {
            object.insert("span_id".into(), json!(SpanId::random().to_string()));
        }
        let has_parent =
            object.contains_key("parent_span_id") || object.contains_key("traceparent");
        if !has_parent && !object.contains_key("trace_id") {
            object.insert("trace_id".into(), json!(TraceId::random().to_string()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_content_and_length() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cres", b"s3cret"));
        assert!(!same_secret(b"s3cret!", b"s3cret"));
        assert!(!same_secret(b"", b"s3cret"));
    }
}
