//! Security headers on every response (OWASP Secure Headers), and
//! `Cache-Control: no-store` on everything but static assets and
//! link-preview images (both content-addressed, cached for good).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use super::AppState;

/// No inline scripts or styles; nothing may frame Chorus. form-action also
/// governs where a form's redirect may lead: "Share on …" answers 303 to
/// the platform's own https share dialog (any Mastodon server), so https:
/// is allowed there.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self' https:";

pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let secure = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.secure_cookies);
    let is_static = req.path().starts_with("/static/") || req.path().starts_with("/previews/");
    let mut res = next.call(req).await?;
    let cacheable = is_static && res.status().is_success();
    let headers = res.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    // same-origin, not no-referrer: browsers then still send Origin on our
    // own form posts, which the CSRF check relies on.
    set(header::REFERRER_POLICY, "same-origin");
    set(
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    );
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if secure {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    if !cacheable {
        set(header::CACHE_CONTROL, "no-store");
    }
    Ok(res)
}
