//! `/queue`: the employee's queue (`page`), sharing (`share`), and the
//! small actions on a post: "Not for me" and its "Undo", Undo of a share,
//! and reading a notice of withdrawal. What each does is `app::queue`'s.

mod page;
mod share;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub use self::page::index;
pub use self::share::share;
use crate::app::queue;
/// The page bounds of every paged list (the admin pages use them too).
pub(crate) use crate::app::queue::MAX_PAGE;
use crate::app::queue::Undone;
use crate::domain::ids::{PostId, UserId};
use crate::domain::platforms::Platform;
use crate::domain::share_caps::UNDO_WINDOW;
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, render, see_other};

/// Undo refused: the share is older than the window.
#[derive(Template)]
#[template(path = "queue/too_late.html")]
struct TooLatePage {
    page: PageContext,
    post_id: i64,
    message: String,
    minutes: i64,
}

/// `POST /queue/{id}/undo/{platform}`: takes back the person's own share
/// made moments ago, back to the card with a notice; past the window, 409
/// with why.
pub async fn undo(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(i64, String)>,
) -> WebResult<HttpResponse> {
    let (post_id, slug) = path.into_inner();
    let platform = Platform::from_slug(&slug).ok_or_else(AppError::not_found)?;
    let user = UserId::new(signed_in.user.id);
    match queue::undo(&state, user, PostId::new(post_id), platform).await? {
        Undone::Undone => Ok(see_other(&format!(
            "/queue?undone={}#post-{post_id}",
            platform.slug()
        ))),
        Undone::TooLate { message } => {
            let page = TooLatePage {
                page: PageContext::from(&signed_in),
                post_id,
                message,
                minutes: UNDO_WINDOW.num_minutes(),
            };
            Ok(render(StatusCode::CONFLICT, &page)?)
        }
    }
}

pub async fn dismiss(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    post: web::Path<i64>,
) -> WebResult<HttpResponse> {
    let post = PostId::new(*post);
    queue::dismiss(&state, UserId::new(signed_in.user.id), post).await?;
    Ok(see_other(&format!("/queue?hidden={post}")))
}

pub async fn restore(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    post: web::Path<i64>,
) -> WebResult<HttpResponse> {
    queue::restore(&state, UserId::new(signed_in.user.id), PostId::new(*post)).await?;
    Ok(see_other("/queue"))
}

pub async fn read_notice(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    post: web::Path<i64>,
) -> WebResult<HttpResponse> {
    queue::read_notice(&state, UserId::new(signed_in.user.id), PostId::new(*post)).await?;
    Ok(see_other("/queue"))
}
