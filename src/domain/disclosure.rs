//! Employment disclosure (FTC 16 CFR 255.5): employees say they work for the organisation, clearly
//! and near the claim, which means in the body of the post and not buried among hashtags.

use std::ops::Range;

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

use super::Invalid;

pub const DEFAULT_TEMPLATE: &str = "I work at {org}.";

const PLACEHOLDER: &str = "{org}";
const MAX_TEMPLATE_CHARS: usize = 100;
/// From this many hashtags on, a run of them closing a post is skimmed, not read.
const PILE_SIZE: usize = 3;

/// Validates an admin's template: not empty (after trim) when required, at most 100 characters,
/// one line, and no braces other than `{org}`. `{org}` itself is optional.
pub fn parse_template(input: &str, required: bool) -> Result<String, Invalid> {
    let template = input.trim();
    if template.is_empty() {
        return if required {
            Err(Invalid::new(
                "Enter the disclosure employees add to their posts, such as “I work at {org}.”",
            ))
        } else {
            Ok(String::new())
        };
    }
    if template.chars().any(is_line_break) {
        return Err(Invalid::new(
            "A disclosure stays on one line: remove the line break.",
        ));
    }
    if template.chars().any(char::is_control) {
        return Err(Invalid::new(
            "A disclosure cannot contain control characters.",
        ));
    }
    if template.chars().count() > MAX_TEMPLATE_CHARS {
        return Err(Invalid::new(format!(
            "A disclosure has at most {MAX_TEMPLATE_CHARS} characters."
        )));
    }
    // "{company}" or "{Org}" would reach every employee's post verbatim, braces and all.
    if template.replace(PLACEHOLDER, "").contains(['{', '}']) {
        return Err(Invalid::new(
            "Only {org} can go in braces: it stands for your organisation's name.",
        ));
    }
    Ok(template.to_string())
}

/// The disclosure text for an organisation: `{org}` replaced by the org name. Inside a hashtag
/// (`#{org}Employee`) the name loses its spaces and punctuation so the hashtag stays one word.
pub fn render(template: &str, org_name: &str) -> String {
    let org: String = org_name.nfc().collect();
    let in_sentence = org.split_whitespace().collect::<Vec<_>>().join(" ");
    let in_hashtag: String = org.chars().filter(|&c| is_hashtag_char(c)).collect();
    let mut rendered = String::with_capacity(template.len() + org.len());
    let mut rest = template;
    while let Some(at) = rest.find(PLACEHOLDER) {
        rendered.push_str(&rest[..at]);
        // A hashtag continues through word characters after the '#', as in "#Proud{org}Team".
        let hashtag = rendered.trim_end_matches(is_hashtag_char).ends_with('#');
        rendered.push_str(if hashtag { &in_hashtag } else { &in_sentence });
        rest = &rest[at + PLACEHOLDER.len()..];
    }
    rendered.push_str(rest);
    rendered
}

/// Whether `text` discloses: it contains the disclosure (case-insensitively, with whitespace
/// collapsed and NFC, and ignoring the disclosure's closing punctuation), and not only inside a
/// pile of three or more hashtags ending the text.
pub fn contains(text: &str, disclosure: &str) -> bool {
    placement(text, disclosure) == Placement::Conspicuous
}

/// The text an employee is offered: the caption with the disclosure at the start of the body
/// ("I work at Acme. Our new ..."), unless the caption already discloses. A disclosure buried in
/// the caption's closing hashtags is moved to the start rather than repeated.
pub fn offered_text(caption: &str, disclosure: &str) -> String {
    let disclosure = disclosure.trim();
    if disclosure.is_empty() {
        return caption.to_string();
    }
    match placement(caption, disclosure) {
        Placement::Conspicuous => caption.to_string(),
        Placement::Buried => prepend(&without_buried(caption, disclosure), disclosure),
        Placement::Missing => prepend(caption, disclosure),
    }
}

/// Checks an employee's edited text when disclosure is required, with a message that says what
/// to keep or where to move it.
pub fn check_edited(text: &str, disclosure: &str, required: bool) -> Result<(), Invalid> {
    let disclosure = disclosure.trim();
    if !required || disclosure.is_empty() {
        return Ok(());
    }
    match placement(text, disclosure) {
        Placement::Conspicuous => Ok(()),
        Placement::Buried => Err(Invalid::new(format!(
            "Move “{disclosure}” out of the hashtags at the end of your text: your organisation's policy asks you to say clearly that you work there."
        ))),
        Placement::Missing => Err(Invalid::new(format!(
            "Keep “{disclosure}” in your text: your organisation's policy asks you to say that you work there."
        ))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    Conspicuous,
    /// Present, but only in the trailing pile of hashtags.
    Buried,
    Missing,
}

fn placement(text: &str, disclosure: &str) -> Placement {
    let wanted = key(disclosure);
    if wanted.is_empty() {
        return Placement::Conspicuous;
    }
    let text = normalise(text);
    // The first occurrence is the earliest, so if it is in the pile every other one is too.
    let Some(at) = text.find(&wanted) else {
        return Placement::Missing;
    };
    let pile_start = pile_start(&text);
    // The very start of a post is where it is most conspicuous, even if only hashtags follow;
    // this also lets the offered text, which starts with the disclosure, always pass.
    if at == 0 || pile_start.is_none_or(|start| at < start) {
        Placement::Conspicuous
    } else {
        Placement::Buried
    }
}

/// What people see as the same text: NFC, lower case, whitespace runs as one space.
fn normalise(text: &str) -> String {
    // ASCII is already NFC and lower-cases to ASCII: the common case, shown
    // for every offer of every queue page, skips the Unicode tables.
    if text.is_ascii() {
        return text
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
            .join(" ");
    }
    normalise_unicode(text)
}

fn normalise_unicode(text: &str) -> String {
    let lower = text.nfc().collect::<String>().to_lowercase();
    let lower: String = lower.nfc().collect();
    lower.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The disclosure as looked for in a text: "I work at Acme!" or "I work at Acme, and" disclose
/// as well as "I work at Acme." does.
fn key(disclosure: &str) -> String {
    let whole = normalise(disclosure);
    let core = whole.trim_end_matches(|c| !is_hashtag_char(c));
    if core.is_empty() {
        whole
    } else {
        core.to_string()
    }
}

/// Where the run of hashtags ending `text` starts (a byte offset), if it has at least
/// [`PILE_SIZE`] hashtags.
fn pile_start(text: &str) -> Option<usize> {
    let mut hashtags = 0;
    let mut start = None;
    for word in words(text).iter().rev() {
        let in_word = hashtags_in(&text[word.clone()]);
        if in_word == 0 {
            break;
        }
        hashtags += in_word;
        start = Some(word.start);
    }
    start.filter(|_| hashtags >= PILE_SIZE)
}

/// How many hashtags a word is made of: "#launch" is one, "#launch#ai" two, "launch" none.
fn hashtags_in(word: &str) -> usize {
    if !word.starts_with('#') {
        return 0;
    }
    word.split('#')
        .filter(|tag| tag.chars().next().is_some_and(is_hashtag_char))
        .count()
}

/// Byte ranges of the whitespace-separated words of `text`.
fn words(text: &str) -> Vec<Range<usize>> {
    let mut words = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(at),
            (true, Some(from)) => {
                words.push(from..at);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        words.push(from..text.len());
    }
    words
}

/// `caption` without the hashtag word that is the disclosure, when it sits in the closing pile.
fn without_buried(caption: &str, disclosure: &str) -> String {
    let wanted = key(disclosure);
    let Some(pile_start) = pile_start(caption) else {
        return caption.to_string();
    };
    let words = words(caption);
    let found = words.iter().enumerate().find(|(_, word)| {
        word.start >= pile_start && key(&caption[word.start..word.end]) == wanted
    });
    let Some((index, word)) = found else {
        return caption.to_string();
    };
    // Take the space before the hashtag with it, so no double space is left behind.
    let from = if index == 0 { 0 } else { words[index - 1].end };
    format!("{}{}", &caption[..from], &caption[word.end..])
}

fn prepend(caption: &str, disclosure: &str) -> String {
    let body = caption.trim_start();
    if body.is_empty() {
        disclosure.to_string()
    } else {
        format!("{disclosure} {body}")
    }
}

/// Characters that keep a hashtag going on the common platforms: letters and digits of any
/// script, the marks that complete them (Devanagari vowel signs, viramas), and joiners.
fn is_hashtag_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || is_combining_mark(c) || matches!(c, '\u{200C}' | '\u{200D}')
}

fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACME: &str = "I work at Acme.";

    #[test]
    fn a_hashtag_template_joins_the_org_name_into_one_word_while_a_sentence_keeps_its_spaces() {
        assert_eq!(
            render("#{org}Employee", "Acme  Robotics"),
            "#AcmeRoboticsEmployee"
        );
        assert_eq!(
            render(DEFAULT_TEMPLATE, " Acme  Robotics "),
            "I work at Acme Robotics."
        );
        assert_eq!(render("#{org}Employee", "AT&T Inc."), "#ATTIncEmployee");
        assert_eq!(
            render("I work at {org}. #Proud{org}Team", "Acme Robotics"),
            "I work at Acme Robotics. #ProudAcmeRoboticsTeam"
        );
        assert_eq!(render("I work here.", "Acme"), "I work here.");
    }

    #[test]
    fn org_names_in_any_script_render_whole_with_their_accents_and_vowel_signs() {
        assert_eq!(
            render("Ich arbeite bei {org}.", "Müller & Söhne"),
            "Ich arbeite bei Müller & Söhne."
        );
        assert_eq!(
            render("#{org}Employee", "Müller & Söhne"),
            "#MüllerSöhneEmployee"
        );
        assert_eq!(render("#{org}", "株式会社 アクメ"), "#株式会社アクメ");
        // The virama in "मोटर्स" is a mark, not a letter; dropping it would misspell the name.
        assert_eq!(render("#{org}", "टाटा मोटर्स"), "#टाटामोटर्स");
        assert_eq!(render("أعمل في {org}.", "شركة أكمي"), "أعمل في شركة أكمي.");
        // A name typed with a separate combining accent renders composed, as it is displayed.
        assert_eq!(render("#{org}", "Cafe\u{301} Ltd"), "#CaféLtd");
    }

    #[test]
    fn the_disclosure_goes_at_the_start_of_the_caption_once_and_never_twice() {
        let caption = "Our new app is live! #launch";
        let offered = offered_text(caption, ACME);
        assert_eq!(offered, "I work at Acme. Our new app is live! #launch");
        assert_eq!(offered_text(&offered, ACME), offered);
        let hashtag = offered_text(caption, "#AcmeEmployee");
        assert_eq!(hashtag, "#AcmeEmployee Our new app is live! #launch");
        assert_eq!(offered_text(&hashtag, "#AcmeEmployee"), hashtag);
    }

    #[test]
    fn a_caption_that_already_discloses_is_offered_unchanged() {
        let caption = "Proud of the team. i WORK at acme and we just shipped.";
        assert_eq!(offered_text(caption, ACME), caption);
        assert_eq!(offered_text("", ACME), ACME);
        assert_eq!(offered_text("  \n ", ACME), ACME);
        assert_eq!(offered_text("Our new app", "  "), "Our new app");
    }

    #[test]
    fn a_disclosure_buried_in_the_captions_closing_hashtags_moves_to_the_start_instead_of_repeating()
     {
        let caption = "Our new app is live!\n\n#launch #AcmeEmployee #mobile";
        let offered = offered_text(caption, "#AcmeEmployee");
        assert_eq!(
            offered,
            "#AcmeEmployee Our new app is live!\n\n#launch #mobile"
        );
        assert_eq!(offered_text(&offered, "#AcmeEmployee"), offered);
        assert!(check_edited(&offered, "#AcmeEmployee", true).is_ok());
    }

    #[test]
    fn a_caption_of_only_hashtags_still_gets_an_offered_text_that_passes_the_check() {
        let offered = offered_text("#launch #mobile #ai", "#AcmeEmployee");
        assert_eq!(offered, "#AcmeEmployee #launch #mobile #ai");
        assert_eq!(offered_text(&offered, "#AcmeEmployee"), offered);
        assert!(check_edited(&offered, "#AcmeEmployee", true).is_ok());
    }

    #[test]
    fn the_disclosure_is_found_whatever_the_case_spacing_or_unicode_composition() {
        assert!(contains(
            "Big news.  i  WORK\n at   ACME. We shipped!",
            ACME
        ));
        assert!(contains("I work at Acme! We shipped.", ACME));
        assert!(contains(
            "Ich arbeite bei Mu\u{308}ller & So\u{308}hne.",
            "Ich arbeite bei Müller & Söhne."
        ));
        assert!(contains("#株式会社アクメ 新製品です", "#株式会社アクメ"));
        assert!(!contains(
            "I used to work at Acme Robotics... no wait",
            "I work at Acme."
        ));
        assert!(!contains("We shipped!", ACME));
    }

    #[test]
    fn a_disclosure_only_in_a_closing_pile_of_hashtags_is_refused_but_the_same_hashtag_in_the_body_counts()
     {
        let tag = "#AcmeEmployee";
        assert!(!contains("We shipped! #launch #mobile #AcmeEmployee", tag));
        assert!(!contains("We shipped! #launch #acmeemployee #mobile", tag));
        assert!(!contains("We shipped! #launch#AcmeEmployee#mobile", tag));
        assert!(contains(
            "Proud #AcmeEmployee here: we shipped! #launch #mobile #ai",
            tag
        ));
        assert!(contains(
            "#AcmeEmployee We shipped! #launch #mobile #ai",
            tag
        ));
        // Two closing hashtags are not yet a pile.
        assert!(contains("We shipped! #launch #AcmeEmployee", tag));
        // Words after the hashtags mean they do not close the text.
        assert!(contains(
            "We shipped! #launch #mobile #AcmeEmployee and more soon",
            tag
        ));
    }

    #[test]
    fn an_edit_that_drops_or_buries_the_disclosure_is_refused_with_a_message_naming_it() {
        assert_eq!(
            check_edited("We shipped!", ACME, true).unwrap_err().0,
            "Keep “I work at Acme.” in your text: your organisation's policy asks you to say that you work there."
        );
        assert_eq!(
            check_edited("We shipped! #a #b #AcmeEmployee", "#AcmeEmployee", true)
                .unwrap_err()
                .0,
            "Move “#AcmeEmployee” out of the hashtags at the end of your text: your organisation's policy asks you to say clearly that you work there."
        );
        assert!(check_edited("We shipped! I work at Acme.", ACME, true).is_ok());
        assert!(check_edited("We shipped!", ACME, false).is_ok());
    }

    #[test]
    fn an_admins_template_is_trimmed_and_refused_when_empty_long_multiline_or_with_unknown_braces()
    {
        assert_eq!(
            parse_template("  #{org}Employee ", true).unwrap(),
            "#{org}Employee"
        );
        assert_eq!(
            parse_template("I work here.", true).unwrap(),
            "I work here."
        );
        assert_eq!(parse_template("   ", false).unwrap(), "");
        assert!(
            parse_template("   ", true)
                .unwrap_err()
                .0
                .starts_with("Enter the disclosure")
        );
        let at_limit = format!("I work at {{org}}. {}", "x".repeat(83));
        assert_eq!(at_limit.chars().count(), 100);
        assert!(parse_template(&at_limit, true).is_ok());
        assert_eq!(
            parse_template(&format!("{at_limit}y"), true).unwrap_err().0,
            "A disclosure has at most 100 characters."
        );
        assert_eq!(
            parse_template("I work\nat {org}.", true).unwrap_err().0,
            "A disclosure stays on one line: remove the line break."
        );
        assert!(parse_template("I work at {company}.", false).is_err());
        assert!(parse_template("I work at {Org}.", true).is_err());
    }
}

#[cfg(test)]
mod ascii_fast_path {
    use proptest::prelude::*;

    proptest! {
        /// The shortcut for ASCII text gives exactly what the Unicode path gives.
        #[test]
        fn ascii_text_normalises_as_the_unicode_path_does(text in "[ -~\t\n\x0B\x0C\r]{0,80}") {
            prop_assert_eq!(super::normalise(&text), super::normalise_unicode(&text));
        }
    }
}
