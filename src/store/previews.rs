//! Link previews: one row per post with the title, description and image
//! shown on queue cards, the image kept as bytes in the row (re-encoded by
//! `domain::preview_image`) and served under its SHA-256. Every write
//! checks, in its transaction, that the post still links where the preview
//! says, so a slow fetch cannot attach an old page to a changed link.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StoreResult};
use crate::db::schema::{link_previews, posts};
use crate::domain::link_preview::PreviewText;
use crate::domain::post::PostStatus;
use crate::domain::preview_image::{PreviewImage, extension_of};

/// A kept image, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub hash: String,
    pub content_type: String,
    pub width: i32,
    pub height: i32,
}

impl ImageRef {
    /// Its address on Chorus's own origin: named by its content, so it
    /// never changes and can be cached for good.
    pub fn path(&self) -> String {
        format!(
            "/previews/{}.{}",
            self.hash,
            extension_of(&self.content_type)
        )
    }
}

/// A post's preview, without the image's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub post_id: i64,
    /// The link it describes.
    pub link: String,
    pub title: String,
    pub description: String,
    pub image: Option<ImageRef>,
    /// Why the last fetch failed, if it did.
    pub fetch_problem: Option<String>,
    pub fetched_at: Option<NaiveDateTime>,
}

type PreviewRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i32>,
    Option<i32>,
    Option<String>,
    Option<NaiveDateTime>,
);

macro_rules! preview_columns {
    () => {
        (
            link_previews::post_id,
            link_previews::link,
            link_previews::title,
            link_previews::description,
            link_previews::image_hash,
            link_previews::image_type,
            link_previews::image_width,
            link_previews::image_height,
            link_previews::fetch_problem,
            link_previews::fetched_at,
        )
    };
}

fn preview_of(row: PreviewRow) -> Preview {
    let (post_id, link, title, description, hash, content_type, width, height, problem, at) = row;
    let image = match (hash, content_type) {
        (Some(hash), Some(content_type)) => Some(ImageRef {
            hash,
            content_type,
            width: width.unwrap_or(0),
            height: height.unwrap_or(0),
        }),
        _ => None,
    };
    Preview {
        post_id,
        link,
        title,
        description,
        image,
        fetch_problem: problem,
        fetched_at: at,
    }
}

pub fn find(conn: &mut DbConnection, post_id: i64) -> StoreResult<Option<Preview>> {
    let row = link_previews::table
        .find(post_id)
        .select(preview_columns!())
        .first::<PreviewRow>(conn)
        .optional()?;
    Ok(row.map(preview_of))
}

/// The previews of these posts, by post.
pub fn of_posts(conn: &mut DbConnection, ids: &[i64]) -> StoreResult<HashMap<i64, Preview>> {
    let rows: Vec<PreviewRow> = super::in_chunks(ids, |ids| {
        Ok(link_previews::table
            .filter(link_previews::post_id.eq_any(ids))
            .select(preview_columns!())
            .load(conn)?)
    })?;
    Ok(by_post(rows))
}

fn by_post(rows: Vec<PreviewRow>) -> HashMap<i64, Preview> {
    rows.into_iter()
        .map(|row| (row.0, preview_of(row)))
        .collect()
}

/// The previews of the published posts, by post, for the queue.
pub fn published(conn: &mut DbConnection) -> StoreResult<HashMap<i64, Preview>> {
    let rows: Vec<PreviewRow> = link_previews::table
        .inner_join(posts::table)
        .filter(posts::status.eq(PostStatus::Published.as_str()))
        .filter(posts::link.eq(link_previews::link))
        .select(preview_columns!())
        .load(conn)?;
    Ok(by_post(rows))
}

/// An image's type and bytes, by its hash.
pub fn image(conn: &mut DbConnection, hash: &str) -> StoreResult<Option<(String, Vec<u8>)>> {
    let row: Option<(Option<String>, Option<Vec<u8>>)> = link_previews::table
        .filter(link_previews::image_hash.eq(hash))
        .select((link_previews::image_type, link_previews::image))
        .first(conn)
        .optional()?;
    Ok(match row {
        Some((Some(content_type), Some(bytes))) => Some((content_type, bytes)),
        _ => None,
    })
}

/// What to do with the image when a preview is written.
#[derive(Debug, Clone)]
pub enum ImageChange {
    Keep,
    Remove,
    Set(PreviewImage),
}

/// A preview write: the text, the image, and how it came about.
#[derive(Debug, Clone)]
pub struct PreviewWrite {
    pub post_id: i64,
    /// The link the preview describes: the write only happens while the
    /// post still has it.
    pub link: String,
    /// Title and description; `None` keeps them.
    pub text: Option<PreviewText>,
    pub image: ImageChange,
    /// `Some`: a fetch happened (with its problem, if it had one); `None`:
    /// comms edited the preview, the last fetch's record stays.
    pub fetch: Option<Option<String>>,
}

#[derive(AsChangeset)]
#[diesel(table_name = link_previews)]
struct Changes<'a> {
    link: &'a str,
    title: Option<&'a str>,
    description: Option<&'a str>,
    image_hash: Option<Option<&'a str>>,
    image_type: Option<Option<&'a str>>,
    image_width: Option<Option<i32>>,
    image_height: Option<Option<i32>>,
    image: Option<Option<&'a [u8]>>,
    fetch_problem: Option<Option<&'a str>>,
    fetched_at: Option<Option<NaiveDateTime>>,
    updated_at: NaiveDateTime,
}

impl<'a> Changes<'a> {
    fn of(write: &'a PreviewWrite, now: NaiveDateTime) -> Changes<'a> {
        let (image_hash, image_type, image_width, image_height, image) = match &write.image {
            ImageChange::Keep => (None, None, None, None, None),
            ImageChange::Remove => (Some(None), Some(None), Some(None), Some(None), Some(None)),
            ImageChange::Set(kept) => (
                Some(Some(kept.hash.as_str())),
                Some(Some(kept.content_type)),
                Some(Some(kept.width as i32)),
                Some(Some(kept.height as i32)),
                Some(Some(kept.bytes.as_slice())),
            ),
        };
        Changes {
            link: &write.link,
            title: write.text.as_ref().map(|t| t.title.as_str()),
            description: write.text.as_ref().map(|t| t.description.as_str()),
            image_hash,
            image_type,
            image_width,
            image_height,
            image,
            fetch_problem: write.fetch.as_ref().map(|p| p.as_deref()),
            fetched_at: write.fetch.as_ref().map(|_| Some(now)),
            updated_at: now,
        }
    }
}

/// Whether a preview write happened.
#[derive(Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    Written,
    /// The post is gone or links elsewhere now.
    LinkChanged,
}

/// Writes a post's preview, in one transaction with the check that the
/// post still has `write.link` (a row for the post is made first if there
/// is none, so two processes writing the first preview do not collide).
pub fn write(
    conn: &mut DbConnection,
    write: &PreviewWrite,
    now: NaiveDateTime,
) -> StoreResult<WriteOutcome> {
    crate::db::write_transaction(conn, |conn| {
        let link: Option<String> = posts::table
            .find(write.post_id)
            .select(posts::link)
            .first(conn)
            .optional()?;
        if link.as_deref() != Some(write.link.as_str()) {
            return Ok(WriteOutcome::LinkChanged);
        }
        let blank = (
            link_previews::post_id.eq(write.post_id),
            link_previews::link.eq(&write.link),
            link_previews::title.eq(""),
            link_previews::description.eq(""),
            link_previews::updated_at.eq(now),
        );
        let insert = diesel::insert_into(link_previews::table)
            .values(blank)
            .on_conflict(link_previews::post_id)
            .do_nothing();
        super::natively!(conn, |c| insert.execute(c))?;
        diesel::update(link_previews::table.find(write.post_id))
            .set(Changes::of(write, now))
            .execute(conn)?;
        Ok(WriteOutcome::Written)
    })
}
