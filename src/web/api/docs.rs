//! The OpenAPI 3.1 document of the API, generated from the handlers'
//! annotations; every operation also lists the error answers every API
//! route can give, in the one error shape.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{consent, error, feeds, me, posts, queue, reports};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Chorus API",
        description = "The JSON API of Chorus. Authenticate with `Authorization: Bearer <token>` \
            (a personal token from Me → API tokens, or an admin's service token). \
            Read-scope tokens may only GET. Errors share one shape: \
            `{\"error\":{\"code\",\"message\",\"fields\"}}`."
    ),
    paths(
        me::show,
        queue::list,
        queue::share,
        queue::undo,
        queue::dismiss,
        consent::show,
        posts::list,
        posts::create,
        posts::show,
        posts::update,
        posts::schedule,
        posts::unschedule,
        posts::withdraw,
        posts::submit,
        posts::approve,
        feeds::list,
        feeds::add,
        feeds::show,
        feeds::pause,
        feeds::resume,
        feeds::remove,
        reports::show,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    modifiers(&CommonAnswers)
)]
pub struct ApiDoc;

/// The bearer scheme, and the error answers of every operation.
struct CommonAnswers;

/// Answers any API route may give: authentication, roles and scope, unknown
/// objects, malformed input, and a database that is briefly away.
const COMMON_ERRORS: &[(&str, &str)] = &[
    ("400", "Malformed input (query, JSON body)"),
    ("401", "No valid token"),
    ("403", "The caller lacks the role, or the token the scope"),
    ("404", "No such object, or not the caller's"),
    ("405", "Method not allowed"),
    ("413", "Body too large"),
    ("415", "Body not sent as application/json"),
    ("422", "Input refused by validation; see `fields`"),
    ("503", "The database is briefly unavailable; retry"),
];

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("chorus_pat_… or chorus_svc_…")
                    .build(),
            ),
        );
        let error_response = |description: &str| {
            let mut builder = ResponseBuilder::new().description(description).content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody"))))
                    .build(),
            );
            if description.contains("unavailable") {
                builder = builder.header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(Some(
                            utoipa::openapi::ObjectBuilder::new()
                                .schema_type(utoipa::openapi::schema::Type::Integer)
                                .build(),
                        ))
                        .build(),
                );
            }
            RefOr::T(builder.build())
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                for (status, description) in COMMON_ERRORS {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error_response(description));
                }
            }
        }
    }
}

/// The document itself, as JSON.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(document())
}
