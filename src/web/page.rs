//! What every page needs from the layout: the person (for the navigation)
//! and the CSRF token (for the logout form and any other form).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse};
use askama::Template;

use super::auth::session::{SignedIn, Visitor};
use super::error::AppError;
pub use super::layout::{NavUser, PageContext};
use super::markup::CsrfToken;
use crate::store::users::User;

fn nav_user(user: &User) -> NavUser {
    NavUser {
        name: user.name.clone(),
        is_employee: user.roles.employee,
        is_comms: user.roles.comms,
        is_admin: user.roles.admin,
    }
}

impl From<&Visitor> for PageContext {
    fn from(visitor: &Visitor) -> PageContext {
        PageContext {
            user: visitor.user().map(nav_user),
            csrf_token: CsrfToken::new(&visitor.csrf_token),
            path: visitor.path.clone(),
        }
    }
}

impl From<&SignedIn> for PageContext {
    fn from(signed_in: &SignedIn) -> PageContext {
        PageContext {
            user: Some(nav_user(&signed_in.user)),
            csrf_token: CsrfToken::new(&signed_in.csrf_token),
            path: signed_in.path.clone(),
        }
    }
}

/// Renders a page with a status (200 for a page, 422 for a refused form).
/// Room a page is rendered into (bytes): the biggest pages fit.
const RENDER_BUFFER: usize = 64 * 1024;

pub fn render<T: Template>(status: StatusCode, template: &T) -> Result<HttpResponse, AppError> {
    // Rendered into room for a whole queue page at once: growing a String
    // from the template's own estimate (a few KB) to ~60 KB copied it four
    // times over.
    let mut body = String::with_capacity(RENDER_BUFFER.max(T::SIZE_HINT));
    template.render_into(&mut body)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

pub fn ok(template: &impl Template) -> Result<HttpResponse, AppError> {
    render(StatusCode::OK, template)
}

/// A refused form, shown again with its messages and the input kept.
pub fn refused(template: &impl Template) -> Result<HttpResponse, AppError> {
    render(StatusCode::UNPROCESSABLE_ENTITY, template)
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}

/// Every IANA time zone name, for the time zone fields' suggestions.
pub fn timezone_names() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect()
}

/// `?saved=1` after a form was saved (Post/Redirect/Get): the page then
/// says so.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct SavedQuery {
    pub saved: Option<String>,
}

/// A form value whose name may come more than once: the first one counts,
/// as it did when forms were read pair by pair. Forms are read with
/// `serde_html_form`, which gathers a repeated name into a list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirstValue(pub String);

impl<'de> serde::Deserialize<'de> for FirstValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct First;
        impl<'de> serde::de::Visitor<'de> for First {
            type Value = FirstValue;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a form value")
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<FirstValue, E> {
                Ok(FirstValue(value.to_string()))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<FirstValue, A::Error> {
                let first = seq.next_element::<String>()?.unwrap_or_default();
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(FirstValue(first))
            }
        }
        deserializer.deserialize_any(First)
    }
}

/// For `#[serde(deserialize_with)]`: a [`FirstValue`] as a plain string.
pub fn first_value<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    serde::Deserialize::deserialize(deserializer).map(|FirstValue(value)| value)
}

/// Error pages keep the navigation: an error answered to someone signed
/// in is shown in the layout with their links (an error renders itself
/// without knowing who asked).
pub async fn keep_navigation_on_error_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let response = next.call(req).await?;
    let page = response
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
        .and_then(|error| {
            let extensions = response.request().extensions();
            let visitor = extensions.get::<Visitor>().filter(|v| v.user.is_some())?;
            Some(error.page_response(&PageContext::from(visitor)))
        });
    Ok(match page {
        Some(page) => response.into_response(page).map_into_right_body(),
        None => response.map_into_left_body(),
    })
}

/// `?done=…` on the page a form redirects to after it saved: which notice
/// the page shows ("saved", "approved", …); anything else shows none.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    pub done: String,
}
