//! `GET /metrics` for operators: Prometheus text. On the main address it
//! needs the metrics token (see [`super::Access::Operator`]); on the
//! separate metrics address (CHORUS_METRICS_ADDRESS) it is the only route.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use crate::ops::metrics::{CONTENT_TYPE, Snapshot};
use crate::store::outbox;

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let (pool_connections, pool_idle, pool_max) = state.db.pool_state();
    let outbox = state.db.run(outbox::depth_by_status).await.ok();
    let kept = state.live_posts.kept_hub();
    let body = state.metrics.render(&Snapshot {
        pool_connections,
        pool_idle,
        pool_max,
        outbox,
        live_posts: kept.posts,
        live_posts_bytes: kept.bytes,
        live_posts_reads: kept.reads,
    });
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// Whether the request's `Authorization: Bearer …` is the configured token.
/// Both sides are hashed first, so the comparison takes the same time
/// whatever the length or content of the guess.
pub fn bearer_matches(authorization: Option<&str>, token: &str) -> bool {
    let Some(offered) = authorization.and_then(crate::credentials::bearer_token) else {
        return false;
    };
    let offered = Sha256::digest(offered.as_bytes());
    let expected = Sha256::digest(token.as_bytes());
    offered.ct_eq(&expected).into()
}

/// The app of the separate metrics address: /metrics and nothing else.
pub fn configure_operator_only(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics))
        .default_service(web::to(HttpResponse::NotFound));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_matches() {
        let token = "s3cret-metrics-token";
        assert!(bearer_matches(Some("Bearer s3cret-metrics-token"), token));
        assert!(!bearer_matches(Some("Bearer s3cret-metrics-toke"), token));
        assert!(!bearer_matches(Some("Bearer "), token));
        assert!(!bearer_matches(Some("Basic s3cret-metrics-token"), token));
        assert!(!bearer_matches(Some("s3cret-metrics-token"), token));
        assert!(!bearer_matches(None, token));
    }
}
