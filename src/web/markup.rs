//! Values a page writes as they are, without the escaper: only those whose
//! type cannot hold any of the five characters it escapes (`"` `&` `'` `<`
//! `>`). A queue page writes a few hundred of them (post ids, counts,
//! platform names, the CSRF token in every form); through the escaper each
//! cost more than the text it wrote. Everything else, and every piece of
//! text a person typed, still goes through `{{ }}`'s escaping.
//!
//! In a template: `{{ post.id|plain }}`, `{{ page.csrf_token|plain }}`,
//! `{{ offer.platform|platform_name }}`, `{{ offer.platform|platform_slug }}`.

use std::fmt;

use crate::domain::platforms::Platform;

/// A type whose text holds no markup character, whatever its value.
pub trait Markupless: fmt::Display {}

impl Markupless for i64 {}
impl Markupless for u32 {}
impl<T: Markupless + ?Sized> Markupless for &T {}

/// The CSRF token as a page shows it: URL-safe base64, checked when made.
#[derive(Debug, Clone)]
pub struct CsrfToken(String);

impl CsrfToken {
    /// The tokens are MACs in URL-safe base64 (`credentials::mac`); anything
    /// else is a programming error, caught here rather than written raw.
    pub fn new(token: &str) -> CsrfToken {
        assert!(is_url_safe_base64(token), "a CSRF token is URL-safe base64");
        CsrfToken(token.to_string())
    }
}

fn is_url_safe_base64(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl fmt::Display for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Markupless for CsrfToken {}

/// The template filters (askama finds them as `filters::…`).
pub mod filters {
    use askama::filters::Safe;

    use super::{Markupless, Platform};

    /// Writes a [`Markupless`] value as it is.
    #[askama::filter_fn]
    pub fn plain<T: Markupless>(value: T, _: &dyn askama::Values) -> askama::Result<Safe<T>> {
        Ok(Safe(value))
    }

    /// The platform's name, fixed in the program (see the test below).
    #[askama::filter_fn]
    pub fn platform_name(
        platform: &Platform,
        _: &dyn askama::Values,
    ) -> askama::Result<Safe<&'static str>> {
        Ok(Safe(platform.name()))
    }

    /// The platform's slug, fixed in the program (see the test below).
    #[askama::filter_fn]
    pub fn platform_slug(
        platform: &Platform,
        _: &dyn askama::Values,
    ) -> askama::Result<Safe<&'static str>> {
        Ok(Safe(platform.slug()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_markup(text: &str) -> bool {
        text.contains(['"', '&', '\'', '<', '>'])
    }

    #[test]
    fn no_platform_name_or_slug_holds_a_character_the_escaper_would_change() {
        for platform in Platform::ALL {
            assert!(!has_markup(platform.name()), "{}", platform.name());
            assert!(!has_markup(platform.slug()), "{}", platform.slug());
        }
    }

    #[test]
    fn a_csrf_token_is_taken_only_as_url_safe_base64() {
        let token = crate::credentials::mac(b"key of thirty-two bytes at least!", &["csrf", "x"]);
        assert_eq!(CsrfToken::new(&token).to_string(), token);
        let refused = std::panic::catch_unwind(|| CsrfToken::new("a\"><script>"));
        assert!(refused.is_err(), "markup is no CSRF token");
    }
}
