//! The web layer: actix-web routes, the session and security layers, and one
//! module per area. Handlers parse, authorise, call store/domain, render.

pub mod admin;
pub mod api;
pub mod assets;
pub mod auth;
pub mod client_address;
pub mod error;
pub mod headers;
pub mod health;
pub mod home;
pub mod hub;
pub mod layout;
pub mod markup;
pub mod me;
pub mod metrics;
pub mod page;
pub mod previews;
pub mod queue;
pub mod telemetry;

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, Route, web};

use crate::domain::roles::Role;
use auth::session::Visitor;
use error::{AppError, ErrorKind};

/// Everything a handler may need, shared by all workers: the use cases'
/// [`App`](crate::app::App) (reached through `Deref`, so `state.db` is
/// `state.app.db`) and what only the web layer needs.
pub struct AppState {
    pub app: crate::app::App,
    /// The origin of `base_url`, for the CSRF Origin check.
    pub base_origin: String,
    /// True when `base_url` is https: Secure cookies, `__Host-` names, HSTS.
    pub secure_cookies: bool,
    /// Peers whose X-Forwarded-For is believed (CHORUS_TRUSTED_PROXIES).
    pub trusted_proxies: client_address::TrustedProxies,
    /// This process's counters, for /metrics.
    pub metrics: Arc<crate::ops::metrics::Metrics>,
}

/// For work outside requests (feed polling) that needs the use cases.
impl AsRef<crate::app::App> for AppState {
    fn as_ref(&self) -> &crate::app::App {
        &self.app
    }
}

impl std::ops::Deref for AppState {
    type Target = crate::app::App;

    fn deref(&self) -> &crate::app::App {
        &self.app
    }
}

/// Who may use a route. Checked centrally for every route in [`route_table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, logged in or not.
    Public,
    /// Any logged-in person.
    SignedIn,
    /// A logged-in person holding the role.
    Role(Role),
    /// A logged-in person holding any of these roles.
    AnyRole(&'static [Role]),
    /// An operator's tool holding the metrics token (`Authorization: Bearer`);
    /// without a configured token the route does not exist (404).
    Operator,
    /// A JSON API caller with a valid API token (`Authorization: Bearer`)
    /// that meets the need; never a session cookie, so no CSRF either.
    Token(crate::domain::api_access::Need),
}

pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    route: fn() -> Route,
}

fn spec(method: Method, path: &'static str, access: Access, route: fn() -> Route) -> RouteSpec {
    RouteSpec {
        method,
        path,
        access,
        route,
    }
}

/// Every route of the application: the router is built from this table, and
/// the route-enumeration tests walk it, so no route escapes the checks.
pub fn route_table() -> Vec<RouteSpec> {
    use Access::*;
    use Method as M;
    let admin = Role(crate::domain::roles::Role::Admin);
    let employee = Role(crate::domain::roles::Role::Employee);
    let comms = Role(crate::domain::roles::Role::Comms);
    // The two-person rule: another comms person or an admin approves.
    let approvers = AnyRole(&[
        crate::domain::roles::Role::Comms,
        crate::domain::roles::Role::Admin,
    ]);
    let reporting = AnyRole(crate::domain::api_access::REPORTING_ROLES);
    use crate::domain::api_access::Need;
    let api_employee = Token(Need::Person(crate::domain::roles::Role::Employee));
    let api_comms = Token(Need::Role(crate::domain::roles::Role::Comms));
    vec![
        spec(M::GET, "/", SignedIn, || web::get().to(home::start)),
        spec(M::GET, "/healthz", Public, || {
            web::get().to(health::healthz)
        }),
        spec(M::GET, "/metrics", Operator, || {
            web::get().to(metrics::metrics)
        }),
        spec(M::GET, "/static/{file}", Public, || {
            web::get().to(assets::serve)
        }),
        spec(M::GET, "/static/icons/{file}", Public, || {
            web::get().to(assets::serve_icon)
        }),
        spec(M::GET, "/previews/{file}", Public, || {
            web::get().to(previews::image)
        }),
        spec(M::GET, "/login", Public, || {
            web::get().to(auth::login::login_form)
        }),
        spec(M::POST, "/login", Public, || {
            web::post().to(auth::login::login)
        }),
        spec(M::POST, "/logout", Public, || {
            web::post().to(auth::login::logout)
        }),
        spec(M::POST, "/login/oidc", Public, || {
            web::post().to(auth::sso::start)
        }),
        spec(M::GET, "/login/oidc/callback", Public, || {
            web::get().to(auth::sso::callback)
        }),
        spec(M::GET, "/setup/{token}", Public, || {
            web::get().to(auth::setup::setup_form)
        }),
        spec(M::POST, "/setup/{token}", Public, || {
            web::post().to(auth::setup::setup)
        }),
        spec(M::GET, "/invite/{token}", Public, || {
            web::get().to(auth::password::set_password_form)
        }),
        spec(M::POST, "/invite/{token}", Public, || {
            web::post().to(auth::password::set_password)
        }),
        spec(M::GET, "/password/forgot", Public, || {
            web::get().to(auth::password::forgot_form)
        }),
        spec(M::POST, "/password/forgot", Public, || {
            web::post().to(auth::password::forgot)
        }),
        spec(M::GET, "/password/reset/{token}", Public, || {
            web::get().to(auth::password::set_password_form)
        }),
        spec(M::POST, "/password/reset/{token}", Public, || {
            web::post().to(auth::password::set_password)
        }),
        spec(M::GET, "/unsubscribe/{token}", Public, || {
            web::get().to(me::unsubscribe::confirm)
        }),
        spec(M::POST, "/unsubscribe/{token}", Public, || {
            web::post().to(me::unsubscribe::unsubscribe)
        }),
        spec(M::GET, "/me/password", SignedIn, || {
            web::get().to(auth::password::change_password_form)
        }),
        spec(M::POST, "/me/password", SignedIn, || {
            web::post().to(auth::password::change_password)
        }),
        spec(M::GET, "/policy", SignedIn, || {
            web::get().to(me::policy::current)
        }),
        spec(M::GET, "/policy/{version:\\d+}", SignedIn, || {
            web::get().to(me::policy::version)
        }),
        spec(M::GET, "/me/consent", employee, || {
            web::get().to(me::consent::show)
        }),
        spec(M::POST, "/me/consent", employee, || {
            web::post().to(me::consent::choose)
        }),
        spec(
            M::GET,
            "/me/receipts/{id:[0-9a-f-]+}.json",
            SignedIn,
            || web::get().to(me::consent::receipt_download),
        ),
        spec(M::GET, "/me/receipts/{id:[0-9a-f-]+}", SignedIn, || {
            web::get().to(me::consent::receipt)
        }),
        spec(M::GET, "/me/data", SignedIn, || {
            web::get().to(me::data::show)
        }),
        spec(M::GET, "/me/data.json", SignedIn, || {
            web::get().to(me::data::download)
        }),
        spec(M::GET, "/me/delete", SignedIn, || {
            web::get().to(me::data::delete_form)
        }),
        spec(M::POST, "/me/delete", SignedIn, || {
            web::post().to(me::data::delete)
        }),
        spec(M::GET, "/queue", employee, || web::get().to(queue::index)),
        spec(
            M::POST,
            "/queue/{id:\\d+}/share/{platform}",
            employee,
            || web::post().to(queue::share),
        ),
        spec(
            M::POST,
            "/queue/{id:\\d+}/undo/{platform}",
            employee,
            || web::post().to(queue::undo),
        ),
        spec(M::POST, "/queue/{id:\\d+}/dismiss", employee, || {
            web::post().to(queue::dismiss)
        }),
        spec(M::POST, "/queue/{id:\\d+}/restore", employee, || {
            web::post().to(queue::restore)
        }),
        spec(M::POST, "/queue/notices/{id:\\d+}/read", employee, || {
            web::post().to(queue::read_notice)
        }),
        spec(M::GET, "/me/preferences", employee, || {
            web::get().to(me::preferences::show)
        }),
        spec(M::POST, "/me/preferences", employee, || {
            web::post().to(me::preferences::save)
        }),
        spec(M::GET, "/me/visibility", SignedIn, || {
            web::get().to(me::preferences::visibility)
        }),
        spec(M::GET, "/suggest", employee, || {
            web::get().to(hub::suggestions::form)
        }),
        spec(M::POST, "/suggest", employee, || {
            web::post().to(hub::suggestions::submit)
        }),
        spec(M::GET, "/hub/posts", comms, || {
            web::get().to(hub::posts::list)
        }),
        spec(M::GET, "/hub/posts/new", comms, || {
            web::get().to(hub::posts::new_form)
        }),
        spec(M::POST, "/hub/posts/new", comms, || {
            web::post().to(hub::posts::create)
        }),
        spec(M::POST, "/hub/posts/preview-counts", comms, || {
            web::post().to(hub::counts::preview_counts)
        }),
        spec(M::GET, "/hub/posts/{id:\\d+}", comms, || {
            web::get().to(hub::posts::edit_form)
        }),
        spec(M::POST, "/hub/posts/{id:\\d+}", comms, || {
            web::post().to(hub::posts::update)
        }),
        spec(M::POST, "/hub/posts/{id:\\d+}/schedule", comms, || {
            web::post().to(hub::posts::schedule_post)
        }),
        spec(M::POST, "/hub/posts/{id:\\d+}/unschedule", comms, || {
            web::post().to(hub::posts::unschedule)
        }),
        spec(M::POST, "/hub/posts/{id:\\d+}/submit", comms, || {
            web::post().to(hub::posts::submit)
        }),
        spec(M::GET, "/hub/approvals", approvers, || {
            web::get().to(hub::approvals::list)
        }),
        spec(M::POST, "/hub/posts/{id:\\d+}/approve", approvers, || {
            web::post().to(hub::approvals::approve)
        }),
        spec(M::POST, "/hub/posts/{id:\\d+}/withdraw", comms, || {
            web::post().to(hub::posts::withdraw)
        }),
        spec(M::POST, "/hub/posts/{id:\\d+}/preview/fetch", comms, || {
            web::post().to(hub::previews::fetch_again)
        }),
        spec(M::POST, "/hub/posts/{id:\\d+}/preview/image", comms, || {
            web::post().to(hub::previews::upload_image)
        }),
        spec(
            M::POST,
            "/hub/posts/{id:\\d+}/preview/image/remove",
            comms,
            || web::post().to(hub::previews::remove_image),
        ),
        spec(M::GET, "/hub/calendar", comms, || {
            web::get().to(hub::calendar::calendar)
        }),
        spec(M::GET, "/hub/calendar/feeds", comms, || {
            web::get().to(hub::calendar_feeds::show)
        }),
        spec(M::POST, "/hub/calendar/feeds", comms, || {
            web::post().to(hub::calendar_feeds::create)
        }),
        spec(
            M::POST,
            "/hub/calendar/feeds/{id:\\d+}/revoke",
            comms,
            || web::post().to(hub::calendar_feeds::revoke),
        ),
        spec(M::GET, "/calendar/{secret}", Public, || {
            web::get().to(hub::calendar_feeds::feed)
        }),
        spec(M::GET, "/hub/feeds", comms, || {
            web::get().to(hub::feeds::show)
        }),
        spec(M::POST, "/hub/feeds", comms, || {
            web::post().to(hub::feeds::add)
        }),
        spec(M::POST, "/hub/feeds/{id:\\d+}/pause", comms, || {
            web::post().to(hub::feeds::pause)
        }),
        spec(M::POST, "/hub/feeds/{id:\\d+}/resume", comms, || {
            web::post().to(hub::feeds::resume)
        }),
        spec(M::POST, "/hub/feeds/{id:\\d+}/remove", comms, || {
            web::post().to(hub::feeds::remove)
        }),
        spec(M::GET, "/hub/suggestions", comms, || {
            web::get().to(hub::suggestions::hub_list)
        }),
        spec(M::POST, "/hub/suggestions/{id:\\d+}/accept", comms, || {
            web::post().to(hub::suggestions::accept)
        }),
        spec(M::POST, "/hub/suggestions/{id:\\d+}/decline", comms, || {
            web::post().to(hub::suggestions::decline)
        }),
        spec(M::GET, "/admin/email", admin, || {
            web::get().to(admin::email::show)
        }),
        spec(M::POST, "/admin/email/retry", admin, || {
            web::post().to(admin::email::retry)
        }),
        spec(M::POST, "/admin/email/unsuppress", admin, || {
            web::post().to(admin::email::unsuppress)
        }),
        spec(M::GET, "/admin/announcements", admin, || {
            web::get().to(admin::announcements::show)
        }),
        spec(M::POST, "/admin/announcements", admin, || {
            web::post().to(admin::announcements::connect)
        }),
        spec(
            M::POST,
            "/admin/announcements/{id:\\d+}/test",
            admin,
            || web::post().to(admin::announcements::test),
        ),
        spec(
            M::POST,
            "/admin/announcements/{id:\\d+}/disconnect",
            admin,
            || web::post().to(admin::announcements::disconnect),
        ),
        spec(M::GET, "/admin/reports", reporting, || {
            web::get().to(admin::reports::index)
        }),
        spec(
            M::GET,
            "/admin/reports/{table:[a-z]+}.csv",
            reporting,
            || web::get().to(admin::reports::csv),
        ),
        spec(M::GET, "/admin/audit", admin, || {
            web::get().to(admin::audit::audit)
        }),
        spec(M::GET, "/admin/settings", admin, || {
            web::get().to(admin::settings::show)
        }),
        spec(M::POST, "/admin/settings", admin, || {
            web::post().to(admin::settings::save)
        }),
        spec(M::GET, "/admin/settings/sso", admin, || {
            web::get().to(admin::sso::settings)
        }),
        spec(M::POST, "/admin/settings/sso", admin, || {
            web::post().to(admin::sso::save_settings)
        }),
        spec(M::GET, "/admin/policy", admin, || {
            web::get().to(admin::policy::admin_index)
        }),
        spec(M::POST, "/admin/policy", admin, || {
            web::post().to(admin::policy::admin_submit)
        }),
        spec(M::GET, "/admin/people", admin, || {
            web::get().to(admin::people::index)
        }),
        spec(M::GET, "/admin/people/new", admin, || {
            web::get().to(admin::people::new_form)
        }),
        spec(M::POST, "/admin/people/new", admin, || {
            web::post().to(admin::people::create)
        }),
        spec(M::GET, "/admin/people/import", admin, || {
            web::get().to(admin::people::import_form)
        }),
        spec(M::POST, "/admin/people/import", admin, || {
            web::post().to(admin::people::import)
        }),
        spec(M::GET, "/admin/people/{id:\\d+}", admin, || {
            web::get().to(admin::people::edit_form)
        }),
        spec(M::POST, "/admin/people/{id:\\d+}", admin, || {
            web::post().to(admin::people::update)
        }),
        spec(M::POST, "/admin/people/{id:\\d+}/deactivate", admin, || {
            web::post().to(admin::people::deactivate)
        }),
        spec(M::POST, "/admin/people/{id:\\d+}/reactivate", admin, || {
            web::post().to(admin::people::reactivate)
        }),
        spec(
            M::POST,
            "/admin/people/{id:\\d+}/password-link",
            admin,
            || web::post().to(admin::people::password_link),
        ),
        spec(M::GET, "/me/tokens", SignedIn, || {
            web::get().to(me::api_tokens::show::<me::api_tokens::Personal>)
        }),
        spec(M::POST, "/me/tokens", SignedIn, || {
            web::post().to(me::api_tokens::create::<me::api_tokens::Personal>)
        }),
        spec(M::POST, "/me/tokens/{id:\\d+}/revoke", SignedIn, || {
            web::post().to(me::api_tokens::revoke::<me::api_tokens::Personal>)
        }),
        spec(M::GET, "/admin/tokens", admin, || {
            web::get().to(me::api_tokens::show::<me::api_tokens::Service>)
        }),
        spec(M::POST, "/admin/tokens", admin, || {
            web::post().to(me::api_tokens::create::<me::api_tokens::Service>)
        }),
        spec(M::POST, "/admin/tokens/{id:\\d+}/revoke", admin, || {
            web::post().to(me::api_tokens::revoke::<me::api_tokens::Service>)
        }),
        spec(M::GET, "/api/v1/openapi.json", Public, || {
            web::get().to(api::docs::openapi_json)
        }),
        spec(M::GET, "/api/v1/me", Token(Need::AnyToken), || {
            web::get().to(api::me::show)
        }),
        spec(M::GET, "/api/v1/queue", api_employee, || {
            web::get().to(api::queue::list)
        }),
        spec(
            M::POST,
            "/api/v1/queue/{id:\\d+}/share/{platform}",
            api_employee,
            || web::post().to(api::queue::share),
        ),
        spec(
            M::POST,
            "/api/v1/queue/{id:\\d+}/undo/{platform}",
            api_employee,
            || web::post().to(api::queue::undo),
        ),
        spec(
            M::POST,
            "/api/v1/queue/{id:\\d+}/dismiss",
            api_employee,
            || web::post().to(api::queue::dismiss),
        ),
        spec(M::GET, "/api/v1/consent", api_employee, || {
            web::get().to(api::consent::show)
        }),
        spec(M::GET, "/api/v1/posts", api_comms, || {
            web::get().to(api::posts::list)
        }),
        spec(M::POST, "/api/v1/posts", api_comms, || {
            web::post().to(api::posts::create)
        }),
        spec(M::GET, "/api/v1/posts/{id:\\d+}", api_comms, || {
            web::get().to(api::posts::show)
        }),
        spec(M::PUT, "/api/v1/posts/{id:\\d+}", api_comms, || {
            web::put().to(api::posts::update)
        }),
        spec(
            M::POST,
            "/api/v1/posts/{id:\\d+}/schedule",
            api_comms,
            || web::post().to(api::posts::schedule),
        ),
        spec(
            M::POST,
            "/api/v1/posts/{id:\\d+}/unschedule",
            api_comms,
            || web::post().to(api::posts::unschedule),
        ),
        spec(
            M::POST,
            "/api/v1/posts/{id:\\d+}/withdraw",
            api_comms,
            || web::post().to(api::posts::withdraw),
        ),
        spec(M::POST, "/api/v1/posts/{id:\\d+}/submit", api_comms, || {
            web::post().to(api::posts::submit)
        }),
        spec(
            M::POST,
            "/api/v1/posts/{id:\\d+}/approve",
            Token(Need::Approver),
            || web::post().to(api::posts::approve),
        ),
        spec(M::GET, "/api/v1/feeds", api_comms, || {
            web::get().to(api::feeds::list)
        }),
        spec(M::POST, "/api/v1/feeds", api_comms, || {
            web::post().to(api::feeds::add)
        }),
        spec(M::GET, "/api/v1/feeds/{id:\\d+}", api_comms, || {
            web::get().to(api::feeds::show)
        }),
        spec(M::DELETE, "/api/v1/feeds/{id:\\d+}", api_comms, || {
            web::delete().to(api::feeds::remove)
        }),
        spec(M::POST, "/api/v1/feeds/{id:\\d+}/pause", api_comms, || {
            web::post().to(api::feeds::pause)
        }),
        spec(M::POST, "/api/v1/feeds/{id:\\d+}/resume", api_comms, || {
            web::post().to(api::feeds::resume)
        }),
        spec(M::GET, "/api/v1/reports", Token(Need::Reports), || {
            web::get().to(api::reports::show)
        }),
    ]
}

/// Registers every route, each behind the check of its [`Access`].
pub fn configure(cfg: &mut web::ServiceConfig) {
    let table = route_table();
    let mut paths: Vec<&'static str> = Vec::new();
    for spec in &table {
        if !paths.contains(&spec.path) {
            paths.push(spec.path);
        }
    }
    // Fixed paths first: actix tries resources in order, and a path with a
    // pattern is a regular expression to run. No fixed path here is also
    // matched by a pattern (ids are digits), so the order only saves work.
    paths.sort_by_key(|path| path.contains('{'));
    for path in paths {
        let specs: Vec<&RouteSpec> = table.iter().filter(|s| s.path == path).collect();
        let access = specs[0].access;
        assert!(
            specs.iter().all(|s| s.access == access),
            "all methods of {path} must share one access rule"
        );
        let mut resource = web::resource(path);
        if api::is_api_path(path) {
            resource = resource
                .app_data(api::json_config())
                .app_data(api::path_config())
                .app_data(api::query_config())
                .default_service(web::to(api::method_not_allowed));
        }
        for spec in specs {
            resource = resource.route((spec.route)());
        }
        cfg.service(resource.wrap(from_fn(move |req, next| authorize(access, req, next))));
    }
}

async fn authorize(
    access: Access,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Access::Token(need) = access {
        return api::authorize(need, req, next).await;
    }
    if access == Access::Operator {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = state.as_ref().and_then(|s| s.config.metrics_token());
        let Some(token) = token else {
            return Ok(req.error_response(AppError::not_found()));
        };
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !metrics::bearer_matches(authorization, token) {
            let response = HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"chorus-metrics\""))
                .content_type("text/plain; charset=utf-8")
                .body("A valid metrics token is required.\n");
            return Ok(req.into_response(response));
        }
        return next.call(req).await.map(|res| res.map_into_boxed_body());
    }
    let visitor = req.extensions().get::<Visitor>().cloned();
    let user = visitor.as_ref().and_then(|v| v.user.clone());
    let refusal = match (access, &user) {
        (Access::Public | Access::Operator | Access::Token(_), _) => None,
        (_, None) => {
            // Not logged in: to the login page, then back here.
            let next_path = if req.method() == Method::GET {
                req.uri()
                    .path_and_query()
                    .map(|pq| pq.as_str().to_string())
                    .unwrap_or_else(|| "/".into())
            } else {
                "/".into()
            };
            let location = format!(
                "/login?next={}",
                url::form_urlencoded::byte_serialize(next_path.as_bytes()).collect::<String>()
            );
            let response = HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
            return Ok(req.into_response(response));
        }
        (Access::SignedIn, Some(_)) => None,
        (Access::Role(role), Some(user)) => {
            (!user.roles.has(role)).then(|| AppError::new(ErrorKind::Forbidden))
        }
        (Access::AnyRole(roles), Some(user)) => {
            (!roles.iter().any(|r| user.roles.has(*r))).then(|| AppError::new(ErrorKind::Forbidden))
        }
    };
    match refusal {
        Some(error) => Ok(req.error_response(error)),
        None => next.call(req).await.map(|res| res.map_into_boxed_body()),
    }
}

/// Unknown routes: a page, or under /api/ the API's JSON error.
pub async fn not_found(req: HttpRequest) -> actix_web::Result<HttpResponse> {
    if api::is_api_path(req.path()) {
        Err(api::ApiError::not_found().into())
    } else {
        Err(AppError::not_found().into())
    }
}
