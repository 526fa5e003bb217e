//! Me → API tokens (personal tokens) and Admin → Integrations (service
//! tokens): create, see once, list, revoke. The token is shown only in the
//! answer to the form that created it; only its hash is stored.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::app::api_tokens::{self, Whose};
use crate::domain::api_access::{EXPIRY_CHOICES, Scope, TokenKind, TokenProblems, TokenRequest};
use crate::store::api_tokens::ApiToken;
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::WebResult;
use crate::web::page::{PageContext, ok, refused, see_other};

/// Which of the two pages a handler serves: [`Personal`] or [`Service`].
pub trait Area {
    /// The page's path.
    const PATH: &'static str;
    /// Whose tokens the page shows, for the person signed in.
    fn whose(signed_in: &SignedIn) -> Whose;
}

/// Me → API tokens: the person's own tokens.
pub struct Personal;

/// Admin → Integrations: the organisation's service tokens.
pub struct Service;

impl Area for Personal {
    const PATH: &'static str = "/me/tokens";

    fn whose(signed_in: &SignedIn) -> Whose {
        Whose::Personal(signed_in.id())
    }
}

impl Area for Service {
    const PATH: &'static str = "/admin/tokens";

    fn whose(_: &SignedIn) -> Whose {
        Whose::Service
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

#[derive(Template)]
#[template(path = "me/tokens.html")]
struct TokensPage {
    page: PageContext,
    service: bool,
    action: &'static str,
    rows: Vec<TokenRow>,
    form: TokenForm,
    errors: TokenProblems,
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

async fn page<A: Area>(
    state: &AppState,
    signed_in: &SignedIn,
    form: TokenForm,
    errors: TokenProblems,
    created: Option<String>,
    revoked: bool,
) -> WebResult<TokensPage> {
    let whose = A::whose(signed_in);
    let tokens = api_tokens::list(state, whose).await?;
    let now = state.clock.now_naive();
    Ok(TokensPage {
        page: PageContext::from(signed_in),
        service: whose == Whose::Service,
        action: A::PATH,
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

pub async fn show<A: Area>(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<ShowQuery>,
) -> WebResult<HttpResponse> {
    let revoked = query.revoked.is_some();
    let page = page::<A>(
        &state,
        &signed_in,
        fresh_form(),
        Default::default(),
        None,
        revoked,
    );
    ok(&page.await?)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CreateForm {
    name: String,
    scope: String,
    expires: String,
    role: String,
}

pub async fn create<A: Area>(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<CreateForm>,
) -> WebResult<HttpResponse> {
    let form = form.into_inner();
    let service_role = match A::whose(&signed_in) {
        Whose::Personal(_) => None,
        Whose::Service => Some(form.role.as_str()),
    };
    match TokenRequest::parse(&form.name, &form.scope, &form.expires, service_role) {
        Ok(request) => {
            let token = api_tokens::create(&state, request, signed_in.id()).await?;
            // Shown in this answer only: not after a redirect, never again.
            let page = page::<A>(
                &state,
                &signed_in,
                fresh_form(),
                Default::default(),
                Some(token),
                false,
            );
            ok(&page.await?)
        }
        Err(problems) => {
            let kept = TokenForm {
                name: form.name,
                scope: form.scope,
                expires: form.expires,
                role: form.role,
            };
            refused(&page::<A>(&state, &signed_in, kept, problems, None, false).await?)
        }
    }
}

pub async fn revoke<A: Area>(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    api_tokens::revoke(&state, *id, A::whose(&signed_in), signed_in.id()).await?;
    Ok(see_other(&format!("{}?revoked=1", A::PATH)))
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
