//! The link preview as the composer and the post page show it: the
//! fields, the kept image and the notices after a preview change.

use chrono_tz::Tz;

use crate::domain::link_preview::{self, PreviewText};
use crate::domain::post::format_local;
use crate::store::previews::Preview;

/// A kept image: its same-origin address and size.
pub struct ImageView {
    pub src: String,
    pub width: i32,
    pub height: i32,
}

impl ImageView {
    fn of(preview: &Preview) -> Option<ImageView> {
        preview.image.as_ref().map(|i| ImageView {
            src: i.path(),
            width: i.width,
            height: i.height,
        })
    }
}

/// The preview as the composer shows it.
#[derive(Default)]
pub struct LinkPreviewForm {
    pub title: String,
    pub description: String,
    /// Why the typed text, an upload or a fetch was refused.
    pub error: Option<String>,
    pub image: Option<ImageView>,
    /// Why the last fetch failed.
    pub problem: Option<String>,
    /// When and from where the page was last read.
    pub fetched: Option<String>,
    pub title_max: usize,
    pub description_max: usize,
}

impl LinkPreviewForm {
    fn limits() -> LinkPreviewForm {
        LinkPreviewForm {
            title_max: link_preview::TITLE_MAX,
            description_max: link_preview::DESCRIPTION_MAX,
            ..LinkPreviewForm::default()
        }
    }

    /// A post's kept preview, if it describes the post's link.
    pub fn of(kept: Option<&Preview>, link: &str, tz: Tz) -> LinkPreviewForm {
        let Some(kept) = kept.filter(|k| k.link == link) else {
            return LinkPreviewForm::limits();
        };
        LinkPreviewForm {
            title: kept.title.clone(),
            description: kept.description.clone(),
            image: ImageView::of(kept),
            problem: kept.fetch_problem.clone(),
            fetched: kept.fetched_at.map(|at| {
                format!(
                    "Read from the link on {}.",
                    format_local(at, tz).replace('T', " at ")
                )
            }),
            ..LinkPreviewForm::limits()
        }
    }

    /// The fields as typed (kept on refusal), and the text when it is
    /// within the limits.
    pub fn typed(
        title: &str,
        description: &str,
        kept: Option<&Preview>,
    ) -> (LinkPreviewForm, Option<PreviewText>) {
        let checked = link_preview::parse_text(title, description);
        let form = LinkPreviewForm {
            title: title.to_string(),
            description: description.to_string(),
            error: checked.as_ref().err().map(|e| e.0.clone()),
            image: kept.and_then(ImageView::of),
            ..LinkPreviewForm::limits()
        };
        (form, checked.ok())
    }
}

/// The post page's notice after a preview change.
pub fn notice_for(done: &str) -> Option<String> {
    match done {
        "fetched" => Some("The link was read again for its preview.".into()),
        "image" => Some("The preview image was saved.".into()),
        "image_removed" => Some("The preview image was removed.".into()),
        _ => None,
    }
}
