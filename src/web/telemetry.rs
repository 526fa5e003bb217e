//! Every request: a request id (echoed in `X-Request-Id`), a tracing span
//! that puts it on each log line of the request, one log line when it is
//! answered, and its count and latency in the metrics.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;

use super::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// An incoming id is kept (a proxy's, to follow one request across logs)
/// only when it is a short token that cannot forge or break a log line.
pub fn acceptable_request_id(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map(str::to_string)
        // From the thread's generator: `Uuid::new_v4` asks the kernel for
        // its bytes, one system call per request.
        .unwrap_or_else(|| {
            uuid::Builder::from_random_bytes(rand::random())
                .into_uuid()
                .simple()
                .to_string()
        })
}

/// One-time links carry their token in the path: keep tokens out of logs.
/// Query strings are never logged.
pub fn redact_path(path: &str) -> String {
    for prefix in [
        "/setup/",
        "/invite/",
        "/password/reset/",
        "/unsubscribe/",
        "/calendar/",
    ] {
        if path.starts_with(prefix) {
            return format!("{prefix}…");
        }
    }
    path.to_string()
}

/// Routes where a person takes part (shares, skips, consents, sets their
/// preferences, unsubscribes, reads a notice): their log lines carry no
/// user id, so the log cannot tell who shared what.
pub fn is_participation(route: &str) -> bool {
    [
        "/queue",
        "/me/consent",
        "/me/receipts",
        "/me/preferences",
        "/unsubscribe/",
        "/api/v1/queue",
        "/api/v1/consent",
    ]
    .iter()
    .any(|prefix| route.starts_with(prefix))
}

/// What a log line names a request by: its route pattern
/// (`/queue/{id}/share/{platform}`), never the ids in the path; a path no
/// route matches, with one-time tokens redacted.
pub fn logged_route(pattern: Option<&str>, path: &str) -> String {
    match pattern {
        Some(pattern) => crate::ops::metrics::route_label(pattern),
        None => redact_path(path),
    }
}

/// Probes and scrapes come every few seconds: counted, not logged at info.
fn is_routine(path: &str) -> bool {
    path == "/healthz" || path == "/metrics"
}

/// The middleware (registered outermost with `from_fn`).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(req.headers());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let method = req.method().clone();
    // Participation routes are told by their literal prefix, so the span
    // is chosen before routing; the route's pattern is read afterwards,
    // from the resource that matched (before routing it costs a second
    // walk through every route's pattern).
    let raw_path = req.path().to_string();
    // The session records the user id into the span; a span without the
    // field takes none.
    let span = if is_participation(&raw_path) {
        tracing::info_span!("request", request_id = %id)
    } else {
        tracing::info_span!(
            "request",
            request_id = %id,
            user_id = tracing::field::Empty
        )
    };
    let result = next.call(req).instrument(span.clone()).await;
    let route = match &result {
        Ok(res) => res.request().match_pattern(),
        Err(_) => None,
    };
    let path = logged_route(route.as_deref(), &raw_path);
    let elapsed = started.elapsed();
    let status = match &result {
        Ok(res) => res.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    if let Some(metrics) = metrics {
        metrics.observe_request(&method, route.as_deref(), status.as_u16(), elapsed);
    }
    span.in_scope(|| {
        let (status, ms) = (status.as_u16(), elapsed.as_millis() as u64);
        if is_routine(&path) {
            tracing::debug!(%method, path, status, ms, "request");
        } else {
            tracing::info!(%method, path, status, ms, "request");
        }
    });
    let mut res = result?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_request_ids_are_taken_from_the_client() {
        assert!(acceptable_request_id(
            "3f2a9c1e-77b0-4f5e-a1d2-c0ffee000001"
        ));
        assert!(acceptable_request_id("req_42.a"));
        assert!(!acceptable_request_id(""));
        assert!(!acceptable_request_id(&"a".repeat(65)));
        assert!(!acceptable_request_id("a b"));
        assert!(!acceptable_request_id("a\nlevel=ERROR"));
        assert!(!acceptable_request_id("ünïcode"));
        assert!(!acceptable_request_id("x\"}"));
    }

    #[test]
    fn one_time_tokens_are_kept_out_of_logged_paths() {
        assert_eq!(redact_path("/invite/abc123"), "/invite/…");
        assert_eq!(redact_path("/unsubscribe/abc"), "/unsubscribe/…");
        assert_eq!(redact_path("/calendar/chorus_cal_abc"), "/calendar/…");
        assert_eq!(redact_path("/queue"), "/queue");
    }

    #[test]
    fn logged_routes_are_patterns_and_participation_routes_are_known() {
        assert_eq!(
            logged_route(
                Some("/queue/{id:\\d+}/share/{platform}"),
                "/queue/63/share/x"
            ),
            "/queue/{id}/share/{platform}"
        );
        assert_eq!(logged_route(None, "/invite/secret"), "/invite/…");
        for route in [
            "/queue/{id}/dismiss",
            "/me/consent",
            "/me/preferences",
            "/unsubscribe/{token}",
        ] {
            assert!(is_participation(route), "{route}");
        }
        for route in ["/login", "/hub/posts", "/admin/people/{id}"] {
            assert!(!is_participation(route), "{route}");
        }
    }
}
