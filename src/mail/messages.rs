//! What each kind of email says, in a text part and an HTML part rendered
//! from the same fields. Every HTML part sits in one frame
//! (`templates/email/frame.html`): the organisation's name on its colour,
//! a table-based layout that common mail clients render, and a footer.

use askama::Template;

use crate::domain::brand::BrandColour;
use crate::store::{StoreError, StoreResult};

/// What the frame of every email shows.
pub struct Frame {
    pub org_name: String,
    pub colour: BrandColour,
    /// Black or white, whichever reads better on `colour`.
    pub ink: &'static str,
}

impl Frame {
    pub fn new(org_name: String, colour: BrandColour) -> Frame {
        let ink = colour.ink();
        Frame {
            org_name,
            colour,
            ink,
        }
    }
}

/// Declares the text and HTML templates of a message, both rendered from
/// the message's own fields (`m` in the templates).
macro_rules! two_parts {
    ($message:ident: $text:ident = $text_path:literal, $html:ident = $html_path:literal) => {
        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            m: &'a $message<'a>,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            m: &'a $message<'a>,
        }

        impl $message<'_> {
            /// The text part and the HTML part.
            pub fn parts(&self) -> StoreResult<(String, String)> {
                Ok((render(&$text { m: self })?, render(&$html { m: self })?))
            }
        }
    };
}

fn render(t: &impl Template) -> StoreResult<String> {
    t.render()
        .map_err(|e| StoreError::Query(diesel::result::Error::SerializationError(Box::new(e))))
}

/// An invitation, or a password reset the person asked for.
pub struct PasswordLink<'a> {
    pub frame: &'a Frame,
    pub name: &'a str,
    pub link: &'a str,
    pub invitation: bool,
}
two_parts!(PasswordLink: PasswordLinkText = "email/password_link.txt",
    PasswordLinkHtml = "email/password_link.html");

/// A password link an admin asked for.
pub struct AdminPasswordLink<'a> {
    pub frame: &'a Frame,
    pub name: &'a str,
    pub link: &'a str,
    pub asked_at: &'a str,
    pub days: i64,
    pub shown_to_admin: bool,
    pub visibility_url: &'a str,
}
two_parts!(AdminPasswordLink: AdminPasswordLinkText = "email/admin_password_link.txt",
    AdminPasswordLinkHtml = "email/admin_password_link.html");

/// One post of a digest, as its card shows it.
pub struct DigestItem {
    pub host: String,
    /// The link preview's title, or the host when there is none.
    pub title: String,
    pub description: String,
    /// The suggested text.
    pub text: String,
    pub link: String,
    /// The preview image on Chorus's own origin (an absolute address, the
    /// same for everyone: opening the email tells no one who opened it).
    pub image_url: Option<String>,
    /// The post in the person's queue.
    pub queue_url: String,
}

/// New posts the person may want to share.
pub struct Digest<'a> {
    pub frame: &'a Frame,
    pub name: &'a str,
    pub items: &'a [DigestItem],
    pub queue_url: &'a str,
    pub unsubscribe_url: &'a str,
    pub preferences_url: &'a str,
}
two_parts!(Digest: DigestText = "email/digest.txt", DigestHtml = "email/digest.html");

/// A post the person shared was withdrawn by the hub.
pub struct Withdrawal<'a> {
    pub frame: &'a Frame,
    pub name: &'a str,
    pub link: &'a str,
    pub reason: &'a str,
}
two_parts!(Withdrawal: WithdrawalText = "email/withdrawal_notice.txt",
    WithdrawalHtml = "email/withdrawal_notice.html");

/// A post waits for the approver.
pub struct ApprovalRequest<'a> {
    pub frame: &'a Frame,
    pub name: &'a str,
    pub title: &'a str,
    pub link: &'a str,
    pub review_url: &'a str,
}
two_parts!(ApprovalRequest: ApprovalText = "email/approval_request.txt",
    ApprovalHtml = "email/approval_request.html");
