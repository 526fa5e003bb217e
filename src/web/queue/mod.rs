//! `/queue`: the employee's queue (`page`), sharing (`share`), and the
//! small actions on a post: "Not for me", "Undo" and reading a notice of
//! withdrawal. What each does is `app::queue`'s.

mod page;
mod share;

use actix_web::{HttpResponse, web};

pub use self::page::index;
pub use self::share::share;
use crate::app::queue;
/// The page bounds of every paged list (the admin pages use them too).
pub(crate) use crate::app::queue::MAX_PAGE;
use crate::domain::ids::{PostId, UserId};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::WebResult;
use crate::web::page::see_other;

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
