//! The organisation's sharing policy as people read it: the current
//! version and every earlier one.

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::domain::policy::{SafeHtml, render_markdown};
use crate::store::policy::PolicyVersion;
use crate::store::{self, StoreError};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, ok};

pub struct VersionView {
    pub version: i64,
    pub sha256: String,
    pub material: bool,
    pub published: String,
    pub html: SafeHtml,
}

pub(crate) fn view(policy: &PolicyVersion) -> VersionView {
    VersionView {
        version: policy.version,
        sha256: policy.sha256.clone(),
        material: policy.material,
        published: policy.published_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        html: render_markdown(&policy.markdown),
    }
}

#[derive(Template)]
#[template(path = "policy/show.html")]
struct PolicyPage {
    page: PageContext,
    policy: Option<VersionView>,
    /// The current version, when this page shows an older one.
    newer: Option<i64>,
}

pub async fn current(state: web::Data<AppState>, signed_in: SignedIn) -> WebResult<HttpResponse> {
    let policy = state.db.run(store::policy::current).await?;
    ok(&PolicyPage {
        page: PageContext::from(&signed_in),
        newer: None,
        policy: policy.as_ref().map(view),
    })
}

pub async fn version(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    version: web::Path<i64>,
) -> WebResult<HttpResponse> {
    let wanted = version.into_inner();
    let (policy, latest) = state
        .db
        .run(move |conn| {
            Ok::<_, StoreError>((
                store::policy::find(conn, wanted)?,
                store::policy::current(conn)?.map(|p| p.version),
            ))
        })
        .await?;
    let policy = policy.ok_or_else(AppError::not_found)?;
    ok(&PolicyPage {
        page: PageContext::from(&signed_in),
        newer: latest.filter(|latest| *latest != policy.version),
        policy: Some(view(&policy)),
    })
}
