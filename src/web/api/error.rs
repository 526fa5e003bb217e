//! The API's one error shape, `{"error":{"code","message","fields"}}`, with
//! its status code. Page errors (`AppError`) map onto it, so a handler may
//! call the same code as the pages and still answer JSON.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::web::error::{AppError, ErrorKind};

/// Every error answer of the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `unauthorized`, `insufficient_scope`,
    /// `forbidden`, `not_found`, `bad_request`, `unsupported_media_type`,
    /// `payload_too_large`, `validation_failed`, `conflict`,
    /// `cap_reached`, `sharing_paused`, `method_not_allowed`, `unavailable`,
    /// `internal`.
    #[schema(example = "cap_reached")]
    pub code: String,
    /// For people: what happened and what to do.
    pub message: String,
    /// Per input field, what is wrong with it (`validation_failed`); else empty.
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: BTreeMap<String, String>,
    pub retry_after: Option<i64>,
    /// The page error it came from, for the log.
    cause: Option<Box<AppError>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: BTreeMap::new(),
            retry_after: None,
            cause: None,
        }
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Send a valid API token as `Authorization: Bearer <token>`. Create one under Me → API tokens.",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn insufficient_scope() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "This token has the read scope; changes need a read-write token.",
        )
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is nothing here, or it is not yours to see.",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// Input that was understood but refused, with a message per field.
    pub fn validation(fields: BTreeMap<String, String>) -> ApiError {
        ApiError {
            fields,
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Some fields were refused; see `fields`. Nothing was saved.",
            )
        }
    }

    pub fn field(name: &str, message: impl Into<String>) -> ApiError {
        ApiError::validation(BTreeMap::from([(name.to_string(), message.into())]))
    }

    pub fn too_many(code: &'static str, message: String, retry_after: Option<i64>) -> ApiError {
        ApiError {
            retry_after,
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message)
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl From<crate::app::Error> for ApiError {
    fn from(error: crate::app::Error) -> ApiError {
        AppError::from(error).into()
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> ApiError {
        let mut api = match &error.kind {
            ErrorKind::BadRequest(message) => ApiError::bad_request(message.clone()),
            ErrorKind::Forbidden | ErrorKind::CsrfRejected => {
                ApiError::forbidden("The caller does not have the role needed here.")
            }
            ErrorKind::NotFound | ErrorKind::LinkExpired => ApiError::not_found(),
            ErrorKind::PayloadTooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is larger than Chorus accepts.",
            ),
            ErrorKind::TooManyRequests {
                retry_after_seconds,
                message,
            } => ApiError::too_many("rate_limited", message.clone(), Some(*retry_after_seconds)),
            ErrorKind::Unavailable => ApiError {
                retry_after: Some(30),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "The database did not answer. Nothing was lost; try again in a minute.",
                )
            },
            ErrorKind::Internal => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "An unexpected error stopped this request. It has been logged.",
            ),
        };
        api.cause = Some(Box::new(error));
        api
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> ApiError {
        AppError::from(error).into()
    }
}

impl<E: Into<AppError>> From<crate::db::RunError<E>> for ApiError {
    fn from(error: crate::db::RunError<E>) -> ApiError {
        AppError::from(error).into()
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            tracing::error!(error = %self, "API request failed");
        } else {
            tracing::debug!(error = %self, "API request refused");
        }
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"chorus-api\""));
        }
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string())
        {
            response.insert_header((header::RETRY_AFTER, value));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
                fields: self.fields.clone(),
            },
        })
    }
}

/// Request bodies that are not JSON, or not the JSON asked for.
pub fn json_error(error: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match error {
        E::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as JSON, with `Content-Type: application/json`.",
        ),
        E::Overflow { .. } | E::OverflowKnownLength { .. } => {
            AppError::new(ErrorKind::PayloadTooLarge).into()
        }
        E::Deserialize(e) => {
            ApiError::bad_request(format!("The body is not the JSON expected here: {e}"))
        }
        _ => ApiError::bad_request("The request body could not be read."),
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn json_of(error: &ApiError) -> serde_json::Value {
        let bytes = error.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn every_page_error_kind_becomes_the_one_json_shape_and_a_500_hides_its_cause() {
        let cases = [
            (
                AppError::bad_request("Choose a period."),
                400,
                "bad_request",
            ),
            (AppError::forbidden(), 403, "forbidden"),
            (AppError::not_found(), 404, "not_found"),
            (
                AppError::new(ErrorKind::PayloadTooLarge),
                413,
                "payload_too_large",
            ),
            (AppError::new(ErrorKind::Unavailable), 503, "unavailable"),
            (
                AppError::internal(std::io::Error::other("SELECT secret")),
                500,
                "internal",
            ),
        ];
        for (page_error, status, code) in cases {
            let error = ApiError::from(page_error);
            assert_eq!(error.status_code().as_u16(), status);
            let body = json_of(&error);
            assert_eq!(body["error"]["code"], code);
            assert!(body["error"]["fields"].is_object());
            assert!(!body.to_string().contains("SELECT"), "{body}");
        }
    }

    #[test]
    fn a_cap_refusal_says_when_to_retry() {
        let error = ApiError::too_many("cap_reached", "Wait.".into(), Some(90));
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "90");
    }
}
