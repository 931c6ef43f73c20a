//! A real model call over `wasi:http`: one OpenAI-compatible chat completion (`POST
//! {base_url}/chat/completions`), sent with the key in `OPENAI_API_KEY` when the operator
//! granted it, and traced as a `chat` span with what the model answered. The host lets the
//! request out only when it granted the network.

use crate::bindings::agentrace::plugin::lifecycle::{Parent, Span, SpanFields};
use crate::bindings::agentrace::plugin::types::{
    ErrorInfo, Message, MessagePart, ModelResponse, Operation, ServerEndpoint, Usage,
};
use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    Fields, IncomingResponse, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use crate::bindings::wasi::io0_2_12::streams::StreamError;
use crate::{nothing, request, text};

/// Where a model is served: `http://HOST:PORT/PATH` (or `https://`).
struct Endpoint {
    scheme: Scheme,
    host: String,
    port: Option<u16>,
    path: String,
}

impl Endpoint {
    fn parse(base_url: &str) -> Result<Self, String> {
        let (scheme, rest) = if let Some(rest) = base_url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = base_url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else {
            return Err(format!("`{base_url}`: expected http://... or https://..."));
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host.to_string(),
                Some(
                    port.parse()
                        .map_err(|_| format!("`{base_url}`: bad port"))?,
                ),
            ),
            None => (authority.to_string(), None),
        };
        Ok(Self {
            scheme,
            host,
            port,
            path: format!("/{}", path.trim_end_matches('/')),
        })
    }

    fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }
}

/// Sends `body` as JSON and returns the status and the response body.
fn post_json(endpoint: &Endpoint, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    // With its length given, the body goes out whole rather than chunked, which simple servers
    // (Python's http.server among them) do not read.
    let mut headers = vec![
        ("content-type".to_string(), b"application/json".to_vec()),
        (
            "content-length".to_string(),
            body.len().to_string().into_bytes(),
        ),
    ];
    if let Ok(key) = std::env::var("OPENAI_API_KEY") {
        headers.push(("authorization".into(), format!("Bearer {key}").into_bytes()));
    }
    let headers = Fields::from_list(&headers).map_err(|e| format!("headers: {e:?}"))?;
    let request = OutgoingRequest::new(headers);
    let scheme = match endpoint.scheme {
        Scheme::Http => Scheme::Http,
        _ => Scheme::Https,
    };
    let set = request
        .set_method(&Method::Post)
        .and(request.set_scheme(Some(&scheme)))
        .and(request.set_authority(Some(&endpoint.authority())))
        .and(request.set_path_with_query(Some(&format!("{}{path}", endpoint.path))));
    set.map_err(|()| "the request's method, scheme, authority or path was refused".to_string())?;
    let outgoing = request.body().map_err(|()| "no request body".to_string())?;
    {
        let stream = outgoing
            .write()
            .map_err(|()| "no body stream".to_string())?;
        // A stream takes at most 4096 bytes per blocking write.
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("writing the request: {e:?}"))?;
        }
    }
    OutgoingBody::finish(outgoing, None).map_err(|e| format!("finishing the request: {e:?}"))?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    pending.subscribe().block();
    let response: IncomingResponse = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(format!("{code:?}")),
        Some(Err(())) | None => return Err("the response was not ready".into()),
    };
    let status = response.status();
    let incoming = response
        .consume()
        .map_err(|()| "no response body".to_string())?;
    let stream = incoming
        .stream()
        .map_err(|()| "no response stream".to_string())?;
    let mut received = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => received.extend(chunk),
            Err(StreamError::Closed) => break,
            Err(e) => return Err(format!("reading the response: {e:?}")),
        }
    }
    Ok((status, received))
}

/// Asks the model at `base_url` `question` once, under `parent`, and returns its answer. The
/// span carries the request, the server, and what came back (response id and model, finish
/// reason, tokens), or the error.
pub fn ask(parent: &Span, base_url: &str, model: &str, question: &str) -> Result<String, String> {
    let endpoint = Endpoint::parse(base_url)?;
    let call = Span::start(
        Operation::Chat,
        &Parent::Span(parent),
        &SpanFields {
            provider: Some("openai".into()),
            server: Some(ServerEndpoint {
                address: endpoint.host.clone(),
                port: endpoint.port,
            }),
            request: Some(request(model)),
            input_messages: vec![text("user", question)],
            ..nothing()
        },
        None,
    )
    .map_err(|e| e.reason)?;
    let request = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": question}],
    });
    let answered = post_json(
        &endpoint,
        "/chat/completions",
        request.to_string().as_bytes(),
    )
    .and_then(|(status, body)| {
        let body: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| format!("HTTP {status}: the answer is not JSON: {e}"))?;
        if status != 200 {
            return Err(format!("HTTP {status}: {body}"));
        }
        Ok(body)
    });
    let body = match answered {
        Ok(body) => body,
        Err(reason) => {
            let failed = SpanFields {
                error: Some(ErrorInfo {
                    type_: "model_request_failed".into(),
                    message: Some(reason.clone()),
                }),
                ..nothing()
            };
            call.end(&failed, None).map_err(|e| e.reason)?;
            return Err(reason);
        }
    };
    let choice = &body["choices"][0];
    let answer = choice["message"]["content"].as_str().unwrap_or_default();
    let finish_reason = choice["finish_reason"].as_str().unwrap_or("stop");
    let tokens = |key: &str| body["usage"][key].as_i64();
    call.end(
        &SpanFields {
            response: Some(ModelResponse {
                model: body["model"].as_str().map(String::from),
                id: body["id"].as_str().map(String::from),
                finish_reasons: vec![finish_reason.into()],
                time_to_first_chunk: None,
            }),
            usage: Some(Usage {
                input_tokens: tokens("prompt_tokens"),
                output_tokens: tokens("completion_tokens"),
                cache_read_input_tokens: None,
                cache_creation_input_tokens: None,
                reasoning_output_tokens: None,
                cost: None,
            }),
            output_messages: vec![Message {
                role: "assistant".into(),
                name: None,
                parts: vec![MessagePart::Text(answer.into())],
                finish_reason: Some(finish_reason.into()),
            }],
            ..nothing()
        },
        None,
    )
    .map_err(|e| e.reason)?;
    Ok(answer.to_string())
}
