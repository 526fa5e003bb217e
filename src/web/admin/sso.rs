//! Admin → Settings → Single sign-on.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::accounts;
use crate::store::sso::SsoPolicy;
use crate::store::{self};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::WebResult;
use crate::web::page::{PageContext, SavedQuery, ok, refused, see_other};

#[derive(Template)]
#[template(path = "admin/sso.html")]
struct SettingsPage {
    page: PageContext,
    configured: Option<ProviderInfo>,
    create_accounts: bool,
    password_login: bool,
    error: Option<String>,
    saved: bool,
}

struct ProviderInfo {
    name: String,
    issuer: String,
    redirect_url: String,
    department_claim: String,
}

fn provider_info(state: &AppState) -> Option<ProviderInfo> {
    state.sso.as_ref().map(|sso| ProviderInfo {
        name: sso.settings.provider_name.clone(),
        issuer: sso.settings.issuer.to_string(),
        redirect_url: sso.settings.redirect_url.to_string(),
        department_claim: sso
            .settings
            .department_claim
            .clone()
            .unwrap_or_else(|| "none".into()),
    })
}

pub async fn settings(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<SavedQuery>,
) -> WebResult<HttpResponse> {
    let org = state.db.run(store::org::settings).await?;
    ok(&SettingsPage {
        page: PageContext::from(&signed_in),
        configured: provider_info(&state),
        create_accounts: org.sso_create_accounts,
        password_login: org.password_login,
        error: None,
        saved: query.saved.is_some(),
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SettingsForm {
    create_accounts: Option<String>,
    password_login: Option<String>,
}

pub async fn save_settings(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<SettingsForm>,
) -> WebResult<HttpResponse> {
    let policy = SsoPolicy {
        create_accounts: form.create_accounts.is_some(),
        password_login: form.password_login.is_some(),
    };
    match accounts::set_sso_policy(&state, policy, signed_in.id()).await? {
        Ok(()) => Ok(see_other("/admin/settings/sso?saved=1")),
        Err(error) => refused(&SettingsPage {
            page: PageContext::from(&signed_in),
            configured: provider_info(&state),
            create_accounts: policy.create_accounts,
            password_login: policy.password_login,
            error: Some(error.to_string()),
            saved: false,
        }),
    }
}
