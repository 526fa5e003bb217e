//! Admin → Policy: publishing a new version of the sharing policy.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::policy::Published;
use crate::domain::ids::UserId;
use crate::domain::policy::{SafeHtml, fingerprint, parse_text, render_markdown};
use crate::store::policy::PolicyVersion;
use crate::store::{self};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::me::policy::{VersionView, view};
use crate::web::page::{PageContext, ok, refused, see_other};

#[derive(Template)]
#[template(path = "admin/policy.html")]
struct AdminPolicyPage {
    page: PageContext,
    markdown: String,
    change: String,
    preview: Option<(SafeHtml, String)>,
    error: Option<String>,
    change_error: Option<String>,
    versions: Vec<VersionView>,
    notice: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeQuery {
    published: Option<i64>,
    paused: Option<usize>,
}

async fn versions(state: &AppState) -> WebResult<Vec<PolicyVersion>> {
    Ok(state.db.run(store::policy::list).await?)
}

pub async fn admin_index(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<NoticeQuery>,
) -> WebResult<HttpResponse> {
    let all = versions(&state).await?;
    let notice = query.published.map(|v| match query.paused {
        Some(n) if n > 0 => format!(
            "Version {v} is published. {n} consent{} given under older versions now wait for the person to choose again.",
            if n == 1 { "" } else { "s" }
        ),
        _ => format!("Version {v} is published."),
    });
    ok(&AdminPolicyPage {
        page: PageContext::from(&signed_in),
        markdown: all.first().map(|p| p.markdown.clone()).unwrap_or_default(),
        change: String::new(),
        preview: None,
        error: None,
        change_error: None,
        versions: all.iter().map(view).collect(),
        notice,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PolicyForm {
    markdown: String,
    change: String,
    action: String,
}

pub async fn admin_submit(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<PolicyForm>,
) -> WebResult<HttpResponse> {
    let form = form.into_inner();
    let text = parse_text(&form.markdown);
    let material = match form.change.as_str() {
        "material" => Some(true),
        "minor" => Some(false),
        _ => None,
    };
    let publishing = form.action == "publish";
    let mut page = AdminPolicyPage {
        page: PageContext::from(&signed_in),
        preview: text
            .as_ref()
            .ok()
            .map(|t| (render_markdown(t), fingerprint(t))),
        markdown: form.markdown.clone(),
        change: form.change.clone(),
        error: text.as_ref().err().map(|e| e.0.clone()),
        change_error: None,
        versions: Vec::new(),
        notice: None,
    };
    if publishing && material.is_none() {
        page.change_error = Some(
            "Say whether this is a material change (new purpose, new platform use, new recipients: \
             everyone must agree again) or a minor one (wording only)."
                .into(),
        );
    }
    let ready = publishing && page.error.is_none() && page.change_error.is_none();
    if !ready {
        page.versions = versions(&state).await?.iter().map(view).collect();
        return if publishing {
            refused(&page)
        } else {
            ok(&page)
        };
    }
    let (Ok(text), Some(material)) = (text, material) else {
        return Err(AppError::bad_request("The policy could not be read."));
    };
    let admin = UserId::new(signed_in.user.id);
    match crate::app::policy::publish(&state, text, material, admin).await? {
        Published::Published {
            version,
            invalidated,
        } => Ok(see_other(&format!(
            "/admin/policy?published={version}&paused={invalidated}"
        ))),
        Published::Conflict => {
            page.error = Some("Another admin published a version at the same moment. Nothing was saved; review the latest version and try again.".into());
            page.versions = versions(&state).await?.iter().map(view).collect();
            refused(&page)
        }
    }
}
