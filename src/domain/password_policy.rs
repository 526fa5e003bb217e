//! Which passwords Chorus accepts, after NIST SP 800-63B-4 §3.1.1.2: a
//! minimum length of 15, at least 64 accepted, no composition rules, no
//! truncation, and a refusal of passwords that are common, breached,
//! repetitive or made of the account's own context (email, organisation).

use unicode_normalization::UnicodeNormalization;

use super::Invalid;

pub const MIN_CHARS: usize = 15;
pub const MAX_CHARS: usize = 256;
/// zxcvbn's matching grows fast with length; beyond this many characters the
/// prefix is judged, which is a lower bound of the whole password's strength.
const JUDGED_CHARS: usize = 100;

/// What the password is checked against besides the common-password lists.
pub struct PasswordContext<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub org_name: &'a str,
}

/// SecLists' 100,000 most common passwords from breaches (MIT licence, see
/// data/breached-passwords/LICENSE), gzipped into the binary.
const BREACHED_GZ: &[u8] =
    include_bytes!("../../data/breached-passwords/10-million-password-list-top-100000.txt.gz");

/// Famous passphrases that zxcvbn scores as strong: xkcd's "correct horse
/// battery staple" and other phrases everyone has seen as an example.
const FAMOUS_PASSPHRASES: &[&str] = &[
    "correct horse battery staple",
    "tr0ub4dor&3",
    "troubadour",
    "the quick brown fox jumps over the lazy dog",
    "to be or not to be that is the question",
    "may the force be with you",
    "all your base are belong to us",
    "never gonna give you up",
    "i solemnly swear that i am up to no good",
    "one ring to rule them all",
];

/// How a password is compared with the lists: case and whitespace ignored.
fn list_key(password: &str) -> String {
    password
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The breached and famous passwords, normalised; decompressed once.
fn known_passwords() -> &'static std::collections::HashSet<String> {
    static SET: std::sync::LazyLock<std::collections::HashSet<String>> =
        std::sync::LazyLock::new(|| {
            use std::io::Read;
            let mut text = String::new();
            flate2::read::GzDecoder::new(BREACHED_GZ)
                .read_to_string(&mut text)
                .expect("the bundled password list is valid gzip and UTF-8");
            text.lines()
                .chain(FAMOUS_PASSPHRASES.iter().copied())
                .map(list_key)
                .filter(|key| !key.is_empty())
                .collect()
        });
    &SET
}

/// True when the password (case and spaces aside) is a well-known breached
/// password or a famous passphrase.
pub fn is_known(password: &str) -> bool {
    known_passwords().contains(&list_key(&normalize(password)))
}

/// NIST asks verifiers to normalise Unicode so that the same password typed
/// on two keyboards hashes the same (NFKC).
pub fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

pub fn check(password: &str, context: &PasswordContext<'_>) -> Result<(), Invalid> {
    let password = normalize(password);
    let length = password.chars().count();
    if length < MIN_CHARS {
        return Err(Invalid::new(format!(
            "Use at least {MIN_CHARS} characters (this one has {length}). A few unrelated words make a good password."
        )));
    }
    if length > MAX_CHARS {
        return Err(Invalid::new(format!(
            "Use at most {MAX_CHARS} characters (this one has {length})."
        )));
    }
    let lower = password.to_lowercase();
    let local_part = context
        .email
        .rsplit_once('@')
        .map(|(local, _)| local)
        .unwrap_or(context.email)
        .to_lowercase();
    if local_part.chars().count() >= 3 && lower.contains(&local_part) {
        return Err(Invalid::new(
            "Do not use your email address in your password.",
        ));
    }
    let org = context.org_name.trim().to_lowercase();
    if org.chars().count() >= 3 && lower.contains(&org) {
        return Err(Invalid::new(
            "Do not use the organisation's name in your password.",
        ));
    }
    if is_known(&password) {
        return Err(Invalid::new(
            "This password is on a list of passwords known from breaches or famous examples. \
             Try a few unrelated words of your own.",
        ));
    }
    let judged: String = password.chars().take(JUDGED_CHARS).collect();
    let mut inputs: Vec<&str> = vec![context.email, context.org_name, "chorus"];
    inputs.extend(context.name.split_whitespace());
    let entropy = zxcvbn::zxcvbn(&judged, &inputs);
    if (entropy.score() as u8) < 3 {
        let hint = entropy
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        return Err(Invalid::new(format!(
            "This password is too common or too easy to guess{hint}. Try a few unrelated words."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> PasswordContext<'static> {
        PasswordContext {
            email: "ada.lovelace@example.com",
            name: "Ada Lovelace",
            org_name: "Acme Widgets",
        }
    }

    #[test]
    fn fourteen_characters_are_too_short_and_fifteen_unrelated_words_pass() {
        let err = check("purple-kettle1", &ctx()).unwrap_err();
        assert!(err.0.contains("at least 15"), "{err}");
        check("purple kettle orbit lantern", &ctx()).unwrap();
    }

    #[test]
    fn no_composition_rules_lowercase_words_with_spaces_are_fine() {
        check("purple kettle orbit lantern", &ctx()).unwrap();
    }

    #[test]
    fn famous_passphrases_and_breached_passwords_are_refused_whatever_the_case_and_spaces() {
        for known in [
            "correct horse battery staple",
            "correcthorsebatterystaple",
            "Correct Horse Battery Staple",
            "CORRECT HORSE  BATTERY STAPLE",
            "the quick brown fox jumps over the lazy dog",
            // From the bundled list (zxcvbn scores these 3 or more).
            "1qaz2wsx3edc4rfv",
            "lhbjkjubz2957704",
        ] {
            assert!(is_known(known), "{known} is known");
            let err = check(known, &ctx()).unwrap_err();
            assert!(
                err.0.contains("known from breaches") || err.0.contains("too common"),
                "{known}: {err}"
            );
        }
        assert!(is_known("Password"));
        assert!(is_known("1 2 3 4 5 6"));
        assert!(!is_known("purple kettle orbit lantern"));
    }

    #[test]
    fn sixty_four_and_more_characters_are_accepted_without_truncation() {
        let long = "river stone cloud maple ".repeat(8); // 192 characters
        check(&long, &ctx()).unwrap();
        let too_long = "x7Qz".repeat(65);
        assert!(
            check(&too_long, &ctx())
                .unwrap_err()
                .0
                .contains("at most 256")
        );
    }

    #[test]
    fn common_repetitive_and_sequential_passwords_are_refused() {
        for weak in [
            "passwordpassword",
            "aaaaaaaaaaaaaaaa",
            "123456789012345",
            "qwertyuiopasdfgh",
            "iloveyouiloveyou",
            "Password1234567",
        ] {
            let err = check(weak, &ctx()).unwrap_err();
            assert!(
                err.0.contains("too common") || err.0.contains("known from breaches"),
                "{weak}: {err}"
            );
        }
    }

    #[test]
    fn the_email_local_part_and_the_org_name_are_refused() {
        let err = check("ada.lovelace rides bicycles", &ctx()).unwrap_err();
        assert!(err.0.contains("email"), "{err}");
        let err = check("I love ACME WIDGETS forever", &ctx()).unwrap_err();
        assert!(err.0.contains("organisation"), "{err}");
    }

    #[test]
    fn length_counts_characters_not_bytes_and_unicode_is_normalised() {
        // 15 characters, 30+ bytes: accepted by length.
        let greek = "πράσινο φεγγάρι λάμπει";
        check(greek, &ctx()).unwrap();
        // The composed and decomposed forms of é normalise to the same text.
        assert_eq!(normalize("caf\u{e9}"), normalize("cafe\u{301}"));
    }
}
