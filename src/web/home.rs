//! `GET /`: the start page, pointing each person to what their roles allow.

use actix_web::HttpResponse;
use askama::Template;

use super::auth::session::SignedIn;
use super::error::WebResult;
use super::page::{PageContext, ok};

#[derive(Template)]
#[template(path = "home.html")]
struct StartPage {
    page: PageContext,
    name: String,
}

pub async fn start(signed_in: SignedIn) -> WebResult<HttpResponse> {
    ok(&StartPage {
        page: PageContext::from(&signed_in),
        name: signed_in.user.name.clone(),
    })
}
