//! `GET /`: the start page, pointing each person to what their roles allow,
//! and telling comms people and admins how many posts wait for their approval.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::AppState;
use super::auth::session::SignedIn;
use super::error::WebResult;
use super::page::{PageContext, ok};
use crate::domain::ids::UserId;
use crate::domain::roles::Role;

#[derive(Template)]
#[template(path = "home.html")]
struct StartPage {
    page: PageContext,
    name: String,
    /// Posts this person may approve that wait for it.
    awaiting_approval: usize,
}

pub async fn start(state: web::Data<AppState>, signed_in: SignedIn) -> WebResult<HttpResponse> {
    let awaiting_approval = if signed_in.has(Role::Comms) || signed_in.has(Role::Admin) {
        let me = UserId::new(signed_in.user.id);
        crate::app::hub::awaiting_approval(&state, me)
            .await?
            .0
            .len()
    } else {
        0
    };
    ok(&StartPage {
        page: PageContext::from(&signed_in),
        name: signed_in.user.name.clone(),
        awaiting_approval,
    })
}
