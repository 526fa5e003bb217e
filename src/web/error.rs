//! The web layer's error: a kind that decides the status and the page shown,
//! and a cause that goes to the log and never to the page.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::layout::PageContext;
use crate::db::RunError;
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest(String),
    /// The person lacks the role for this page.
    Forbidden,
    /// Missing or wrong CSRF token, or a cross-site Origin.
    CsrfRejected,
    NotFound,
    /// A one-time link that is unknown, used or expired.
    LinkExpired,
    PayloadTooLarge,
    TooManyRequests {
        retry_after_seconds: i64,
        message: String,
    },
    Unavailable,
    Internal,
}

#[derive(Debug)]
pub struct AppError {
    pub kind: ErrorKind,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl AppError {
    pub fn new(kind: ErrorKind) -> AppError {
        AppError { kind, source: None }
    }

    pub fn internal(source: impl std::error::Error + Send + Sync + 'static) -> AppError {
        AppError {
            kind: ErrorKind::Internal,
            source: Some(Box::new(source)),
        }
    }

    pub fn not_found() -> AppError {
        AppError::new(ErrorKind::NotFound)
    }

    pub fn forbidden() -> AppError {
        AppError::new(ErrorKind::Forbidden)
    }

    pub fn bad_request(message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::BadRequest(message.into()))
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.kind)?;
        let mut cause: Option<&(dyn std::error::Error + 'static)> = self
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> AppError {
        // A database restarted mid-request cut the connection: like a
        // database that cannot be reached, that is a 503, not a fault of ours.
        if error.is_connection_lost() {
            return AppError {
                kind: ErrorKind::Unavailable,
                source: Some(Box::new(error)),
            };
        }
        AppError::internal(error)
    }
}

impl From<crate::app::Error> for AppError {
    fn from(error: crate::app::Error) -> AppError {
        use crate::app::Error;
        match error {
            Error::NotFound => AppError::not_found(),
            Error::Forbidden => AppError::forbidden(),
            Error::Invalid(message) => AppError::bad_request(message),
            Error::TooManyRequests {
                retry_after_seconds,
                message,
            } => AppError::new(ErrorKind::TooManyRequests {
                retry_after_seconds,
                message,
            }),
            Error::Unavailable(message) => AppError {
                kind: ErrorKind::Unavailable,
                source: Some(message.into()),
            },
            Error::Store(error) => error.into(),
            Error::Internal(source) => AppError {
                kind: ErrorKind::Internal,
                source: Some(source),
            },
        }
    }
}

impl<E: Into<AppError>> From<RunError<E>> for AppError {
    fn from(error: RunError<E>) -> AppError {
        match error {
            RunError::Unavailable(message) => AppError {
                kind: ErrorKind::Unavailable,
                source: Some(message.into()),
            },
            RunError::Work(e) => e.into(),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(error: askama::Error) -> AppError {
        AppError::internal(error)
    }
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    page: &'a PageContext,
    status: u16,
    title: &'a str,
    message: &'a str,
    link: Option<(&'a str, &'a str)>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self.kind {
            ErrorKind::BadRequest(_) => StatusCode::BAD_REQUEST,
            ErrorKind::Forbidden | ErrorKind::CsrfRejected => StatusCode::FORBIDDEN,
            ErrorKind::NotFound | ErrorKind::LinkExpired => StatusCode::NOT_FOUND,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        self.page_response(&PageContext::anonymous())
    }
}

impl AppError {
    /// The cause goes to the log (server errors as errors), never to the page.
    fn log(&self) {
        if self.status_code().is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, "request refused");
        }
    }

    /// The error page in the site's layout, with the navigation of `page`.
    pub fn page_response(&self, page: &PageContext) -> HttpResponse {
        let status = self.status_code();
        let (title, message, link): (&str, String, Option<(&str, &str)>) = match &self.kind {
            ErrorKind::BadRequest(message) => ("Bad request", message.clone(), None),
            ErrorKind::Forbidden => (
                "Not allowed",
                "Your account does not have the role needed for this page.".into(),
                Some(("/", "Go to your start page")),
            ),
            ErrorKind::CsrfRejected => (
                "This form could not be accepted",
                "The form was out of date or did not come from this site (for example after you \
                 logged in or out in another tab). Nothing was changed. Go back, reload the page \
                 and try again."
                    .into(),
                Some(("/", "Go to your start page")),
            ),
            ErrorKind::NotFound => (
                "Page not found",
                "There is no page at this address, or it is not yours to see.".into(),
                Some(("/", "Go to your start page")),
            ),
            ErrorKind::LinkExpired => (
                "This link no longer works",
                "The link is unknown, was already used, or has expired. Ask an administrator \
                 for a new one."
                    .into(),
                Some(("/login", "Log in")),
            ),
            ErrorKind::PayloadTooLarge => (
                "Too much data",
                "What you sent is larger than Chorus accepts. Nothing was saved. Try a smaller \
                 file or shorter text."
                    .into(),
                None,
            ),
            ErrorKind::TooManyRequests { message, .. } => ("Please wait", message.clone(), None),
            ErrorKind::Unavailable => (
                "Chorus is briefly unavailable",
                "The database did not answer. Nothing was lost; please try again in a minute."
                    .into(),
                None,
            ),
            ErrorKind::Internal => (
                "Something went wrong",
                "An unexpected error stopped this request. It has been logged; please try again."
                    .into(),
                Some(("/", "Go to your start page")),
            ),
        };
        let page = ErrorPage {
            page,
            status: status.as_u16(),
            title,
            message: &message,
            link,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{} {}", status.as_u16(), title));
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"));
        if let ErrorKind::TooManyRequests {
            retry_after_seconds,
            ..
        } = self.kind
            && let Ok(value) = HeaderValue::from_str(&retry_after_seconds.max(1).to_string())
        {
            response.insert_header((header::RETRY_AFTER, value));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, "30"));
        }
        response.body(body)
    }
}

pub type WebResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body_of(error: &AppError) -> String {
        let bytes = error.error_response().into_body().try_into_bytes().unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn a_500_page_hides_the_cause_that_goes_to_the_log() {
        let cause = std::io::Error::other(
            "SELECT * FROM users WHERE password_hash = 'x' at src/store/users.rs:42",
        );
        let error = AppError::internal(cause);
        assert_eq!(error.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_of(&error);
        assert!(body.contains("Something went wrong"));
        assert!(
            !body.contains("SELECT") && !body.contains("src/store"),
            "{body}"
        );
        assert!(
            error.to_string().contains("SELECT"),
            "the log keeps the cause"
        );
    }

    #[test]
    fn a_connection_cut_mid_query_is_a_503_and_other_query_errors_a_500() {
        use diesel::result::{DatabaseErrorKind, Error};
        let lost = |kind| {
            AppError::from(StoreError::Query(Error::DatabaseError(
                kind,
                Box::new("terminating connection due to administrator command".to_string()),
            )))
        };
        for kind in [
            DatabaseErrorKind::ClosedConnection,
            DatabaseErrorKind::UnableToSendCommand,
        ] {
            assert_eq!(lost(kind).status_code(), StatusCode::SERVICE_UNAVAILABLE);
        }
        assert_eq!(
            lost(DatabaseErrorKind::Unknown).status_code(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            AppError::from(StoreError::Query(Error::NotFound)).status_code(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn each_kind_has_its_status_and_a_page() {
        let cases = [
            (ErrorKind::Forbidden, 403, "Not allowed"),
            (ErrorKind::CsrfRejected, 403, "could not be accepted"),
            (ErrorKind::NotFound, 404, "Page not found"),
            (ErrorKind::LinkExpired, 404, "no longer works"),
            (ErrorKind::PayloadTooLarge, 413, "Too much data"),
            (ErrorKind::Unavailable, 503, "briefly unavailable"),
        ];
        for (kind, status, text) in cases {
            let error = AppError::new(kind);
            assert_eq!(error.status_code().as_u16(), status);
            assert!(body_of(&error).contains(text));
        }
        let throttled = AppError::new(ErrorKind::TooManyRequests {
            retry_after_seconds: 90,
            message: "Wait a little.".into(),
        });
        let response = throttled.error_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "90");
    }
}
