//! Me → API tokens (personal tokens) and Admin → Integrations (service
//! tokens): create, see once, list, revoke. The token is shown only in the
//! answer to the form that created it; only its hash is stored.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::domain::api_access::{
    EXPIRY_CHOICES, Scope, ServiceRole, TokenKind, parse_expiry, parse_token_name,
};
use crate::store::api_tokens::{self, ApiToken, NewToken, Revocable};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, ok, refused, see_other};

/// Which of the two pages: a person's own tokens, or the integrations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Area {
    Personal,
    Service,
}

impl Area {
    fn path(self) -> &'static str {
        match self {
            Area::Personal => "/me/tokens",
            Area::Service => "/admin/tokens",
        }
    }
}

pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scope: &'static str,
    pub role: &'static str,
    pub created_by: String,
    pub created: String,
    pub last_used: String,
    pub expires: String,
    pub state: &'static str,
    pub live: bool,
}

#[derive(Default, Clone)]
pub struct TokenForm {
    pub name: String,
    pub scope: String,
    pub expires: String,
    pub role: String,
}

#[derive(Default)]
pub struct TokenErrors {
    pub name: Option<String>,
    pub scope: Option<String>,
    pub expires: Option<String>,
    pub role: Option<String>,
}

#[derive(Template)]
#[template(path = "me/tokens.html")]
struct TokensPage {
    page: PageContext,
    service: bool,
    action: &'static str,
    rows: Vec<TokenRow>,
    form: TokenForm,
    errors: TokenErrors,
    /// The token just created: shown this once.
    created: Option<String>,
    revoked: bool,
    expiry_choices: Vec<(String, String)>,
}

fn when(at: Option<NaiveDateTime>, none: &str) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| none.to_string())
}

fn row(token: &ApiToken, now: NaiveDateTime) -> TokenRow {
    let expired = token.expires_at.is_some_and(|at| at <= now);
    TokenRow {
        id: token.id,
        name: token.name.clone(),
        prefix: token.prefix.clone(),
        scope: token.scope.as_str(),
        role: match token.kind {
            TokenKind::Service(role) => role.as_str(),
            TokenKind::Personal => "",
        },
        created_by: token.owner_name.clone(),
        created: when(Some(token.created_at), ""),
        last_used: when(token.last_used_at, "never"),
        expires: when(token.expires_at, "never"),
        state: if token.revoked_at.is_some() {
            "revoked"
        } else if expired {
            "expired"
        } else {
            "active"
        },
        live: token.revoked_at.is_none() && !expired,
    }
}

async fn page(
    state: &AppState,
    signed_in: &SignedIn,
    area: Area,
    form: TokenForm,
    errors: TokenErrors,
    created: Option<String>,
    revoked: bool,
) -> WebResult<TokensPage> {
    let user_id = signed_in.user.id;
    let tokens = state
        .db
        .run(move |conn| match area {
            Area::Personal => api_tokens::personal_of(conn, user_id),
            Area::Service => api_tokens::services(conn),
        })
        .await?;
    let now = state.clock.now_naive();
    Ok(TokensPage {
        page: PageContext::from(signed_in),
        service: area == Area::Service,
        action: area.path(),
        rows: tokens.iter().map(|t| row(t, now)).collect(),
        form,
        errors,
        created,
        revoked,
        expiry_choices: EXPIRY_CHOICES
            .iter()
            .map(|c| match c {
                Some(days) => (days.to_string(), format!("{days} days")),
                None => ("never".to_string(), "Never expires".to_string()),
            })
            .collect(),
    })
}

fn fresh_form() -> TokenForm {
    TokenForm {
        scope: "read".into(),
        expires: "90".into(),
        role: "reports".into(),
        ..TokenForm::default()
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ShowQuery {
    revoked: Option<String>,
}

async fn show(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<ShowQuery>,
    area: Area,
) -> WebResult<HttpResponse> {
    let revoked = query.revoked.is_some();
    ok(&page(
        &state,
        &signed_in,
        area,
        fresh_form(),
        TokenErrors::default(),
        None,
        revoked,
    )
    .await?)
}

pub async fn show_personal(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<ShowQuery>,
) -> WebResult<HttpResponse> {
    show(state, signed_in, query, Area::Personal).await
}

pub async fn show_service(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<ShowQuery>,
) -> WebResult<HttpResponse> {
    show(state, signed_in, query, Area::Service).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CreateForm {
    name: String,
    scope: String,
    expires: String,
    role: String,
}

async fn create(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<CreateForm>,
    area: Area,
) -> WebResult<HttpResponse> {
    let form = form.into_inner();
    let kept = TokenForm {
        name: form.name.clone(),
        scope: form.scope.clone(),
        expires: form.expires.clone(),
        role: form.role.clone(),
    };
    let mut errors = TokenErrors::default();
    let name = parse_token_name(&form.name)
        .map_err(|e| errors.name = Some(e.0))
        .ok();
    let scope = Scope::parse(&form.scope)
        .map_err(|e| errors.scope = Some(e.0))
        .ok();
    let expires = parse_expiry(&form.expires)
        .map_err(|e| errors.expires = Some(e.0))
        .ok();
    let kind = match area {
        Area::Personal => Some(TokenKind::Personal),
        Area::Service => ServiceRole::parse(&form.role)
            .map(TokenKind::Service)
            .map_err(|e| errors.role = Some(e.0))
            .ok(),
    };
    let (Some(name), Some(scope), Some(expires), Some(kind)) = (name, scope, expires, kind) else {
        return refused(&page(&state, &signed_in, area, kept, errors, None, false).await?);
    };
    let now = state.clock.now_naive();
    let owner_id = signed_in.user.id;
    let (_, token) = state
        .db
        .run(move |conn| {
            api_tokens::create(
                conn,
                &NewToken {
                    kind,
                    owner_id,
                    name: &name,
                    scope,
                    expires_at: expires.map(|days| now + chrono::Duration::days(days)),
                },
                now,
            )
        })
        .await?;
    // Shown in this answer only: not after a redirect, never again.
    ok(&page(
        &state,
        &signed_in,
        area,
        fresh_form(),
        TokenErrors::default(),
        Some(token),
        false,
    )
    .await?)
}

pub async fn create_personal(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<CreateForm>,
) -> WebResult<HttpResponse> {
    create(state, signed_in, form, Area::Personal).await
}

pub async fn create_service(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<CreateForm>,
) -> WebResult<HttpResponse> {
    create(state, signed_in, form, Area::Service).await
}

async fn revoke(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
    area: Area,
) -> WebResult<HttpResponse> {
    let (token_id, by, now) = (*id, signed_in.user.id, state.clock.now_naive());
    let which = match area {
        Area::Personal => Revocable::PersonalOf(by),
        Area::Service => Revocable::Service,
    };
    let revoked = state
        .db
        .run(move |conn| api_tokens::revoke(conn, token_id, which, by, now))
        .await?;
    // Someone else's token, an unknown one, or one revoked before.
    if !revoked {
        return Err(AppError::not_found());
    }
    Ok(see_other(&format!("{}?revoked=1", area.path())))
}

pub async fn revoke_personal(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    revoke(state, signed_in, id, Area::Personal).await
}

pub async fn revoke_service(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    revoke(state, signed_in, id, Area::Service).await
}

/// Kept for the templates: the scopes offered, with what each may do.
pub fn scope_choices() -> [(&'static str, &'static str); 2] {
    [
        (Scope::Read.as_str(), "Read: may only look (GET)"),
        (
            Scope::ReadWrite.as_str(),
            "Read and write: may also share, dismiss and change posts",
        ),
    ]
}
