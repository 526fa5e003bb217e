//! Link previews: fetched once on the server when a post gets a link, kept
//! with the post (text and a re-encoded image), edited by comms, and shown
//! on queue cards from Chorus's own origin. A failed fetch never fails the
//! save: the post is kept, the reason is recorded for comms to read, and
//! the fields stay for them to fill in.

use std::collections::HashMap;

use super::{App, Error, Result};
use crate::domain::ids::PostId;
use crate::domain::link_preview::{self, PageMeta, PreviewText};
use crate::domain::preview_image::{self, PreviewImage};
use crate::outbound::{FetchError, Want};
use crate::store;
use crate::store::previews::{self, ImageChange, Preview, PreviewWrite, WriteOutcome};

/// Bytes of a linked page read at most.
pub const PAGE_MAX_BYTES: usize = 1024 * 1024;
/// Bytes of a linked image read at most.
pub const IMAGE_MAX_BYTES: usize = 5 * 1024 * 1024;

const PAGE: Want = Want {
    what: "page",
    expected: "an HTML page",
    accept: "text/html,application/xhtml+xml;q=0.9",
    types: &["text/html", "application/xhtml+xml"],
    max_bytes: PAGE_MAX_BYTES,
};

const IMAGE: Want = Want {
    what: "image",
    expected: "an image",
    accept: "image/avif;q=0.1,image/webp,image/png,image/jpeg,image/gif;q=0.9",
    // Some servers send images as octet-stream; the decoder decides.
    types: &["image/", "application/octet-stream"],
    max_bytes: IMAGE_MAX_BYTES,
};

/// A post's preview, if it has one.
pub async fn of_post(app: &App, post: PostId) -> Result<Option<Preview>> {
    Ok(app
        .db
        .run(move |conn| previews::find(conn, post.get()))
        .await?)
}

/// The previews of several posts, by post id.
pub async fn of_posts(app: &App, ids: Vec<i64>) -> Result<HashMap<i64, Preview>> {
    Ok(app
        .db
        .run(move |conn| previews::of_posts(conn, &ids))
        .await?)
}

/// An image's type and bytes, by its content hash.
pub async fn image(app: &App, hash: String) -> Result<(String, Vec<u8>)> {
    app.db
        .run(move |conn| previews::image(conn, &hash))
        .await?
        .ok_or(Error::NotFound)
}

/// CPU work (parsing, decoding, encoding) off the async workers.
async fn off_the_executor<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}

/// What the network gave for a link: the page's text and, when it names
/// one, its image's bytes or why they could not be had.
struct Fetched {
    meta: PageMeta,
    image: Option<std::result::Result<Vec<u8>, String>>,
}

/// The page, then its image: network only, within the deadline.
async fn fetch(app: &App, link: &str) -> std::result::Result<Fetched, FetchError> {
    let page = app.fetcher.get(link, PAGE).await?;
    let meta = off_the_executor(move || {
        let html = link_preview::decode(&page.body, page.charset.as_deref());
        link_preview::read_page(&html, &page.url)
    })
    .await;
    let image = match &meta.image {
        None => None,
        Some(url) => Some(
            app.fetcher
                .get(url.as_str(), IMAGE)
                .await
                .map(|fetched| fetched.body)
                .map_err(|e| e.to_string()),
        ),
    };
    Ok(Fetched { meta, image })
}

/// A link's preview: its text, its image re-encoded, and why the image
/// could not be used.
struct Read {
    meta: PageMeta,
    image: Option<PreviewImage>,
    image_problem: Option<String>,
}

/// Fetches the page and its image within one deadline for both (each
/// request has the fetch timeout of its own, so a slow page is reported
/// as such), then re-encodes the image.
async fn read_link(app: &App, link: &str) -> std::result::Result<Read, String> {
    let deadline = 2 * app.fetcher.timeout();
    let fetched = match tokio::time::timeout(deadline, fetch(app, link)).await {
        Ok(Ok(fetched)) => fetched,
        Ok(Err(error)) => return Err(format!("The preview could not be fetched: {error}.")),
        Err(_) => {
            return Err(format!(
                "The preview could not be fetched: the page and its image took longer than {} seconds.",
                deadline.as_secs()
            ));
        }
    };
    let image = match fetched.image {
        None => Ok(None),
        Some(Err(problem)) => Err(problem),
        Some(Ok(bytes)) => off_the_executor(move || preview_image::reencode(&bytes))
            .await
            .map(Some)
            .map_err(|refusal| refusal.0.trim_end_matches('.').to_lowercase()),
    };
    let (image, image_problem) = match image {
        Ok(image) => (image, None),
        Err(problem) => (
            None,
            Some(format!(
                "The page was read, but its image could not be used: {problem}."
            )),
        ),
    };
    Ok(Read {
        meta: fetched.meta,
        image,
        image_problem,
    })
}

async fn write(app: &App, write: PreviewWrite) -> Result<WriteOutcome> {
    let now = app.clock.now_naive();
    Ok(app
        .db
        .run(move |conn| previews::write(conn, &write, now))
        .await?)
}

/// After a post was saved with `link`: fetches its preview when the link
/// is new to the post (or `again`), once; otherwise keeps the text comms
/// typed. Text comms changed from the kept preview wins over the page's.
/// `typed`: the preview fields as sent (`None` when the request had none:
/// the kept text stays).
pub async fn after_save(
    app: &App,
    post: PostId,
    link: &str,
    typed: Option<PreviewText>,
    again: bool,
) -> Result<()> {
    let stored = of_post(app, post).await?;
    let kept = stored
        .as_ref()
        .map(|p| PreviewText {
            title: p.title.clone(),
            description: p.description.clone(),
        })
        .unwrap_or_default();
    let typed = typed.unwrap_or_else(|| kept.clone());
    let new_link = stored.as_ref().is_none_or(|p| p.link != link);
    let mut change = PreviewWrite {
        post_id: post.get(),
        link: link.to_string(),
        text: None,
        image: ImageChange::Keep,
        fetch: None,
    };
    if !new_link && !again {
        if typed != kept {
            change.text = Some(typed);
            write(app, change).await?;
        }
        return Ok(());
    }
    match read_link(app, link).await {
        Ok(fetched) => {
            change.text = Some(PreviewText {
                title: if typed.title != kept.title {
                    typed.title
                } else {
                    fetched.meta.title
                },
                description: if typed.description != kept.description {
                    typed.description
                } else {
                    fetched.meta.description
                },
            });
            change.image = match fetched.image {
                Some(image) => ImageChange::Set(image),
                None => ImageChange::Remove,
            };
            change.fetch = Some(fetched.image_problem);
        }
        Err(problem) => {
            change.text = Some(typed);
            // The old image showed the old page; for the same link it stays.
            if new_link {
                change.image = ImageChange::Remove;
            }
            change.fetch = Some(Some(problem));
        }
    }
    // LinkChanged: another save changed the link meanwhile, and its own
    // fetch applies.
    write(app, change).await?;
    Ok(())
}

/// The post, if comms may still change its preview.
async fn editable_post(app: &App, post: PostId) -> Result<crate::store::posts::Post> {
    let found = app
        .db
        .run(move |conn| store::posts::find(conn, post.get()))
        .await?
        .ok_or(Error::NotFound)?;
    if !found.status.is_editable() {
        return Err(Error::Invalid(
            "This post has been published, has expired or was withdrawn; its preview can no longer be changed.".into(),
        ));
    }
    Ok(found)
}

/// Fetches the preview of a saved post again from its link.
pub async fn fetch_again(app: &App, post: PostId) -> Result<()> {
    let found = editable_post(app, post).await?;
    after_save(app, post, &found.link, None, true).await
}

/// Replaces the preview image with one comms uploaded (re-encoded), or
/// says why the file cannot be used.
pub async fn upload_image(app: &App, post: PostId, bytes: Vec<u8>) -> Result<()> {
    let found = editable_post(app, post).await?;
    let image = off_the_executor(move || preview_image::reencode(&bytes))
        .await
        .map_err(|refusal| Error::Invalid(refusal.0))?;
    let upload = PreviewWrite {
        post_id: post.get(),
        link: found.link,
        text: None,
        image: ImageChange::Set(image),
        fetch: None,
    };
    write(app, upload).await?;
    Ok(())
}

/// Takes the image off a post's preview.
pub async fn remove_image(app: &App, post: PostId) -> Result<()> {
    let found = editable_post(app, post).await?;
    let removal = PreviewWrite {
        post_id: post.get(),
        link: found.link,
        text: None,
        image: ImageChange::Remove,
        fetch: None,
    };
    write(app, removal).await?;
    Ok(())
}

/// An image a feed item names, fetched and re-encoded as a preview's own
/// (the draft's card image), or why it could not be used.
pub(crate) async fn read_image(app: &App, url: &str) -> std::result::Result<PreviewImage, String> {
    let fetched = app
        .fetcher
        .get(url, IMAGE)
        .await
        .map_err(|e| e.to_string())?;
    off_the_executor(move || preview_image::reencode(&fetched.body))
        .await
        .map_err(|refusal| refusal.0.trim_end_matches('.').to_lowercase())
}
