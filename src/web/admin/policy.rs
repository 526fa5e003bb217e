//! Admin → Policy: publishing a new version of the sharing policy.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::policy::Published;
use crate::domain::Invalid;
use crate::domain::policy::{SafeHtml, fingerprint, parse_text, render_markdown};
use crate::store::policy::PolicyVersion;
use crate::store::{self};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::WebResult;
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

const CHANGE_UNSAID: &str = "Say whether this is a material change (new purpose, new platform use, \
     new recipients: everyone must agree again) or a minor one (wording only).";

const PUBLISHED_MEANWHILE: &str = "Another admin published a version at the same moment. Nothing \
     was saved; review the latest version and try again.";

impl AdminPolicyPage {
    /// The form as typed, with its preview or the text's problem.
    fn typed(signed_in: &SignedIn, form: &PolicyForm, text: &Result<String, Invalid>) -> Self {
        AdminPolicyPage {
            page: PageContext::from(signed_in),
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
        }
    }
}

/// The page with every published version listed.
async fn with_versions(state: &AppState, page: AdminPolicyPage) -> WebResult<AdminPolicyPage> {
    let versions = versions(state).await?.iter().map(view).collect();
    Ok(AdminPolicyPage { versions, ..page })
}

/// Previews the text typed, or publishes it as a new version.
pub async fn admin_submit(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<PolicyForm>,
) -> WebResult<HttpResponse> {
    let form = form.into_inner();
    let text = parse_text(&form.markdown);
    let mut page = AdminPolicyPage::typed(&signed_in, &form, &text);
    if form.action != "publish" {
        return ok(&with_versions(&state, page).await?);
    }
    let material = match form.change.as_str() {
        "material" => Some(true),
        "minor" => Some(false),
        _ => None,
    };
    page.change_error = material.is_none().then(|| CHANGE_UNSAID.to_string());
    let (Ok(text), Some(material)) = (text, material) else {
        return refused(&with_versions(&state, page).await?);
    };
    match crate::app::policy::publish(&state, text, material, signed_in.id()).await? {
        Published::Published {
            version,
            invalidated,
        } => Ok(see_other(&format!(
            "/admin/policy?published={version}&paused={invalidated}"
        ))),
        Published::Conflict => {
            page.error = Some(PUBLISHED_MEANWHILE.into());
            refused(&with_versions(&state, page).await?)
        }
    }
}
