//! Approvals: the posts waiting for a second pair of eyes, for comms
//! people and admins who did not write them, and approving one.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::hub::{self as hub, Approval};
use crate::domain::ids::{PostId, UserId};
use crate::store::posts::Post;
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::WebResult;
use crate::web::page::DoneQuery;
use crate::web::page::{PageContext, render, see_other};

/// A post as its approver reviews it.
pub struct Waiting {
    pub id: i64,
    pub title: String,
    pub link: String,
    pub base_text: String,
    pub revision: i32,
    /// Platform names with their caption variants.
    pub captions: Vec<(&'static str, Vec<String>)>,
}

impl From<Post> for Waiting {
    fn from(post: Post) -> Waiting {
        Waiting {
            id: post.id,
            revision: post.revision,
            captions: post
                .captions
                .by_platform()
                .map(|(p, v)| (p.name(), v.into_iter().map(String::from).collect()))
                .collect(),
            title: post.title,
            link: post.link,
            base_text: post.base_text,
        }
    }
}

#[derive(Template)]
#[template(path = "hub/approvals.html")]
struct ApprovalsPage {
    page: PageContext,
    posts: Vec<Waiting>,
    needed: bool,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    signed_in: &SignedIn,
    notice: Option<&'static str>,
    error: Option<String>,
) -> WebResult<ApprovalsPage> {
    let (posts, needed) = hub::awaiting_approval(state, UserId::new(signed_in.user.id)).await?;
    Ok(ApprovalsPage {
        page: PageContext::from(signed_in),
        posts: posts.into_iter().map(Waiting::from).collect(),
        needed,
        notice,
        error,
    })
}

pub async fn list(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<DoneQuery>,
) -> WebResult<HttpResponse> {
    let notice =
        (query.done == "approved").then_some("Approved: it may now be scheduled or published.");
    render(
        StatusCode::OK,
        &page(&state, &signed_in, notice, None).await?,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ApproveForm {
    revision: String,
}

/// Approves the revision the approver saw; the list again with the reason
/// when that is not possible (403: their own post; 409: changed or done).
pub async fn approve(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
    form: web::Form<ApproveForm>,
) -> WebResult<HttpResponse> {
    let revision = form.revision.trim().parse().ok();
    let by = UserId::new(signed_in.user.id);
    let (status, message) = match hub::approve(&state, PostId::new(*id), by, revision).await? {
        Approval::Approved => return Ok(see_other("/hub/approvals?done=approved")),
        Approval::OwnPost(message) => (StatusCode::FORBIDDEN, message),
        Approval::Changed => (
            StatusCode::CONFLICT,
            "The post was edited since you opened it. Review it again below.".to_string(),
        ),
        Approval::NotSubmitted => (
            StatusCode::CONFLICT,
            "This post is not waiting for approval: someone approved it already, or it went back to draft.".to_string(),
        ),
    };
    render(
        status,
        &page(&state, &signed_in, None, Some(message)).await?,
    )
}
