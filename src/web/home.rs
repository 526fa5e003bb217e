//! `GET /`: the start page. Each part the person's roles allow shows its
//! state: for employees the posts waiting and the shares left today, for
//! comms what waits for review and what goes out next, for admins the
//! policy, unused invitations and email delivery.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::AppState;
use super::auth::session::SignedIn;
use super::error::WebResult;
use super::page::{PageContext, ok};
use crate::app::home::{AdminHome, CommsHome, EmployeeHome};
use crate::app::{self, queue::local_time};
use crate::domain::roles::Role;

#[derive(Template)]
#[template(path = "home.html")]
struct StartPage {
    page: PageContext,
    name: String,
    employee: Option<EmployeeHome>,
    comms: Option<CommsHome>,
    admin: Option<AdminHome>,
    /// Posts this person may approve that wait for it.
    awaiting_approval: usize,
}

impl StartPage {
    /// When a post goes out, in the organisation's time zone.
    fn when(&self, post: &crate::store::posts::Post) -> String {
        match (&self.comms, post.publish_at) {
            (Some(comms), Some(at)) => local_time(at, comms.timezone),
            _ => String::new(),
        }
    }
}

pub async fn start(state: web::Data<AppState>, signed_in: SignedIn) -> WebResult<HttpResponse> {
    let me = signed_in.id();
    let employee = match signed_in.has(Role::Employee) {
        true => Some(app::home::employee(&state, &signed_in.user).await?),
        false => None,
    };
    let (comms, awaiting_approval) = match signed_in.has(Role::Comms) {
        true => (
            Some(app::home::comms(&state).await?),
            app::hub::awaiting_approval(&state, me).await?.0.len(),
        ),
        false if signed_in.has(Role::Admin) => {
            (None, app::hub::awaiting_approval(&state, me).await?.0.len())
        }
        false => (None, 0),
    };
    let admin = match signed_in.has(Role::Admin) {
        true => Some(app::home::admin(&state).await?),
        false => None,
    };
    ok(&StartPage {
        page: PageContext::from(&signed_in),
        name: signed_in.user.name.clone(),
        employee,
        comms,
        admin,
        awaiting_approval,
    })
}
