//! `POST /queue/{id}/share/{platform}`: records a share within the
//! person's caps and sends them to the platform's own share dialog.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::page::queue_page;
use crate::app::queue::{self, Shared, Situation, queue_post};
use crate::domain::ids::{PostId, UserId};
use crate::domain::platforms::Platform;
use crate::store::posts::Post;
use crate::store::queue::QueueItem;
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, render, see_other};

#[derive(Template)]
#[template(path = "queue/wait.html")]
struct WaitPage {
    page: PageContext,
    platform: &'static str,
    message: String,
}

/// The queue's one form carries a text box per post and platform whose
/// dialog takes text (`text_{post}_{platform}`); `text` is taken too, for
/// a form of one post and platform.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ShareForm {
    #[serde(flatten)]
    fields: HashMap<String, String>,
}

impl ShareForm {
    /// What the person typed for this platform (empty: the offered text).
    fn text_for(&self, post_id: i64, platform: Platform) -> &str {
        self.fields
            .get(&format!("text_{post_id}_{}", platform.slug()))
            .or_else(|| self.fields.get("text"))
            .map_or("", String::as_str)
    }
}

pub async fn share(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(i64, String)>,
    form: web::Form<ShareForm>,
) -> WebResult<HttpResponse> {
    let (post_id, slug) = path.into_inner();
    let platform = Platform::from_slug(&slug).ok_or_else(AppError::not_found)?;
    let user = UserId::new(signed_in.user.id);
    let typed = form.text_for(post_id, platform);
    match queue::share(&state, user, PostId::new(post_id), platform, typed).await? {
        Shared::Recorded { url, .. } => Ok(see_other(&url)),
        Shared::TextRefused {
            problem,
            post,
            situation,
        } => {
            let refused = Refused {
                platform,
                typed,
                problem,
            };
            refused_page(&state, &signed_in, *post, &situation, refused).await
        }
        Shared::Wait {
            message,
            retry_after_seconds,
        } => wait_page(&signed_in, platform, message, retry_after_seconds),
    }
}

/// A cap reached: 429, with when to try again if there is a time.
fn wait_page(
    signed_in: &SignedIn,
    platform: Platform,
    message: String,
    retry_after_seconds: Option<i64>,
) -> WebResult<HttpResponse> {
    let page = WaitPage {
        page: PageContext::from(signed_in),
        platform: platform.name(),
        message,
    };
    let mut response = render(StatusCode::TOO_MANY_REQUESTS, &page)?;
    if let Some(seconds) = retry_after_seconds
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    Ok(response)
}

/// An edited text that was refused, and why.
struct Refused<'a> {
    platform: Platform,
    typed: &'a str,
    problem: String,
}

/// The queue again, the refused post first with the text as typed and the
/// problem beside it.
async fn refused_page(
    state: &AppState,
    signed_in: &SignedIn,
    post: Post,
    situation: &Situation,
    refused: Refused<'_>,
) -> WebResult<HttpResponse> {
    let mut loaded = queue::load(state, &signed_in.user, 1).await?;
    loaded.items.retain(|i| i.post.id != post.id);
    let item = QueueItem {
        post: Arc::new(post),
        shared_on: Vec::new(),
    };
    let user = UserId::new(signed_in.user.id);
    let mut page = queue_page(signed_in, &loaded, 1, None);
    let mut this = queue_post(&item, situation, &loaded.hub, user, &[]);
    if let Some(offer) = this
        .offers
        .iter_mut()
        .find(|o| o.platform == refused.platform)
    {
        offer.text = refused.typed.into();
        offer.error = Some(refused.problem);
    }
    page.posts.insert(0, this);
    render(StatusCode::UNPROCESSABLE_ENTITY, &page)
}
