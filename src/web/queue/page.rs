//! `GET /queue`: a page of the employee's queue, with notices of posts
//! they shared that were withdrawn since, and below it what they are done
//! with this week (shown only to them).

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::queue::{self, Loaded, QueuePost, local_time, short_time};
use crate::domain::ids::UserId;
use crate::domain::platforms::Platform;
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::WebResult;
use crate::web::markup::filters;
use crate::web::page::{PageContext, ok};

pub(super) struct NoticeView {
    pub post_id: i64,
    pub link: String,
    pub reason: String,
    pub when: String,
    pub platforms: String,
}

/// A post of the "Done" list: what the person did with it, and when.
pub(super) struct DoneView<'a> {
    pub post_id: i64,
    pub link: &'a str,
    pub title: std::sync::Arc<str>,
    /// Shared on a platform (None: skipped), when, and whether Undo is
    /// still allowed.
    pub lines: Vec<(Option<Platform>, String, bool)>,
}

/// Whitespace around the template's tags is minimized: the blank lines and
/// indentation left by `{% if %}` and `{% for %}` lines were about 7 % of a
/// page of 20 posts (60 KB), sent on every view. A run with a newline keeps
/// one (so `<pre>` keeps its line break).
#[derive(Template)]
#[template(path = "queue/index.html", whitespace = "minimize")]
pub(super) struct QueuePage<'a> {
    page: PageContext,
    pub(super) posts: Vec<QueuePost<'a>>,
    notices: Vec<NoticeView>,
    consented_any: bool,
    page_number: i64,
    pages: i64,
    hidden: Option<i64>,
    done: Vec<DoneView<'a>>,
    /// The platform whose share was just undone.
    undone: Option<Platform>,
    /// The person's time zone, which the Done list's times are in.
    zone: &'static str,
}

pub(super) fn queue_page<'a>(
    signed_in: &SignedIn,
    loaded: &'a Loaded,
    page_number: i64,
    hidden: Option<i64>,
) -> QueuePage<'a> {
    let tz = loaded.situation.tz;
    let done = loaded
        .done()
        .into_iter()
        .map(|d| DoneView {
            post_id: d.id,
            link: d.link,
            title: d.title,
            lines: d
                .shares
                .into_iter()
                .map(|(p, at, undo)| (Some(p), short_time(at, tz), undo))
                .chain(d.skipped.map(|at| (None, short_time(at, tz), true)))
                .collect(),
        })
        .collect();
    QueuePage {
        page: PageContext::from(signed_in),
        posts: loaded.posts(UserId::new(signed_in.user.id)),
        notices: loaded
            .notices
            .iter()
            .map(|n| NoticeView {
                post_id: n.post.id,
                link: n.post.link.clone(),
                reason: n.post.reason.clone(),
                when: local_time(n.post.withdrawn_at, tz),
                platforms: n
                    .platforms
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
        consented_any: !loaded.situation.consented.is_empty(),
        page_number,
        pages: loaded.pages(),
        hidden,
        done,
        undone: None,
        zone: tz.name(),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct QueueQuery {
    page: i64,
    hidden: Option<i64>,
    /// The slug of the platform whose share was just undone.
    undone: Option<String>,
}

pub async fn index(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<QueueQuery>,
) -> WebResult<HttpResponse> {
    let page_number = query.page.clamp(1, queue::MAX_PAGE);
    let loaded = queue::load(&state, &signed_in.user, page_number).await?;
    let mut page = queue_page(&signed_in, &loaded, page_number, query.hidden);
    page.undone = query.undone.as_deref().and_then(Platform::from_slug);
    ok(&page)
}
