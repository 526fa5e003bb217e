//! The email delivery overview for admins: enough to find and fix a bad
//! address or a broken relay, and nothing that ties a person to a kind of
//! email, a post or a moment. Counts per kind hide groups below k (one
//! withdrawal notice would say that one person shared the withdrawn
//! post); failures are grouped by their reason, with addresses taken out
//! and no kind or time; suppressed addresses show only the address and
//! the reason.

use std::collections::HashMap;

use super::{App, Error, Result};
use crate::domain::email::hide_addresses;
use crate::store::outbox::{FailedRow, Kind, STATUSES};
use crate::store::{self, StoreError};

/// The most failed messages the page (and a retry) looks at.
const FAILED_LIMIT: i64 = 10_000;

/// One kind of email: what it is called and a cell per status.
pub struct CountRow {
    pub kind: &'static str,
    pub cells: Vec<String>,
}

/// Failed messages that failed for the same reason (addresses hidden).
pub struct FailedGroup {
    pub reason: String,
    pub messages: usize,
    pub attempts: String,
}

/// What the admin's email page shows.
pub struct Overview {
    /// The smallest group shown as a number.
    pub k: u32,
    /// One row per kind of email, a cell per status in [`STATUSES`].
    pub counts: Vec<CountRow>,
    /// Whether any email was ever queued.
    pub any_email: bool,
    pub failed: Vec<FailedGroup>,
    /// Suppressed addresses, with the reason shown.
    pub suppressed: Vec<(String, String)>,
    /// How email leaves: the SMTP relay's host, or the outbox folder.
    pub transport: String,
}

pub async fn overview(app: &App) -> Result<Overview> {
    let (k, counts, failed, suppressed) = app
        .db
        .run(|conn| {
            Ok::<_, StoreError>((
                store::org::settings(conn)?.k(),
                store::outbox::counts(conn)?,
                store::outbox::failed(conn, FAILED_LIMIT)?,
                store::outbox::suppressed(conn)?,
            ))
        })
        .await?;
    Ok(Overview {
        k,
        any_email: !counts.is_empty(),
        counts: count_rows(&counts, k),
        failed: failed_groups(&failed)
            .into_iter()
            .map(|(group, _)| group)
            .collect(),
        suppressed: suppressed
            .into_iter()
            .map(|(email, reason)| {
                let reason = shown_reason(&email, Some(&reason));
                (email, reason)
            })
            .collect(),
        transport: transport(app),
    })
}

fn transport(app: &App) -> String {
    let smtp_url = app.config.smtp_url.as_deref().map(str::trim);
    match smtp_url.filter(|u| !u.is_empty()) {
        Some(url) => format!(
            "SMTP ({})",
            url::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default()
        ),
        None => format!(".eml files in {}", app.config.outbox_dir().display()),
    }
}

/// Puts every failed message shown with `reason` (as the page shows it)
/// back in the queue. NotFound when none is.
pub async fn retry(app: &App, reason: String) -> Result<()> {
    let now = app.clock.now_naive();
    let retried = app
        .db
        .run(move |conn| {
            let rows = store::outbox::failed(conn, FAILED_LIMIT)?;
            let ids: Vec<i64> = failed_groups(&rows)
                .into_iter()
                .find(|(group, _)| group.reason == reason)
                .map(|(_, ids)| ids)
                .unwrap_or_default();
            store::outbox::retry(conn, &ids, now)
        })
        .await?;
    if retried == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// Lets a suppressed address receive email again. NotFound when it is
/// not suppressed.
pub async fn unsuppress(app: &App, email: &str) -> Result<()> {
    let email = email.trim().to_lowercase();
    // No stored address holds a control character (PostgreSQL refuses a
    // NUL in text outright): such input names no suppressed address.
    if email.is_empty() || email.chars().any(char::is_control) {
        return Err(Error::NotFound);
    }
    let cleared = app
        .db
        .run(move |conn| store::outbox::unsuppress(conn, &email))
        .await?;
    if !cleared {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// A kind × status grid; a count below k, zero included, is shown as
/// "fewer than k", so the grid says nothing about small groups.
fn count_rows(counts: &[(String, String, i64)], k: u32) -> Vec<CountRow> {
    Kind::ALL
        .into_iter()
        .map(|kind| CountRow {
            kind: kind.label(),
            cells: STATUSES
                .iter()
                .map(|status| {
                    let n = counts
                        .iter()
                        .find(|(kd, st, _)| kd == kind.as_str() && st == status)
                        .map_or(0, |(_, _, n)| *n);
                    if n < i64::from(k) {
                        format!("fewer than {k}")
                    } else {
                        n.to_string()
                    }
                })
                .collect(),
        })
        .collect()
}

/// What an admin may read of a failure: the relay's reply without any
/// address in it (the recipient's own is hidden in any form it takes).
fn shown_reason(recipient: &str, error: Option<&str>) -> String {
    match error.map(str::trim).filter(|e| !e.is_empty()) {
        Some(error) => hide_addresses(error, &[recipient]),
        None => "No reason recorded".to_string(),
    }
}

/// Failed rows grouped by their shown reason, the most frequent first,
/// with the ids of each group (for a retry).
fn failed_groups(rows: &[FailedRow]) -> Vec<(FailedGroup, Vec<i64>)> {
    let mut groups: Vec<(FailedGroup, Vec<i64>, i32, i32)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (id, recipient, error, attempts) in rows {
        let reason = shown_reason(recipient, error.as_deref());
        let at = *index.entry(reason.clone()).or_insert_with(|| {
            groups.push((
                FailedGroup {
                    reason,
                    messages: 0,
                    attempts: String::new(),
                },
                Vec::new(),
                i32::MAX,
                i32::MIN,
            ));
            groups.len() - 1
        });
        let (group, ids, least, most) = &mut groups[at];
        group.messages += 1;
        ids.push(*id);
        (*least, *most) = ((*least).min(*attempts), (*most).max(*attempts));
    }
    let mut groups: Vec<(FailedGroup, Vec<i64>)> = groups
        .into_iter()
        .map(|(mut group, ids, least, most)| {
            group.attempts = if least == most {
                least.to_string()
            } else {
                format!("{least}–{most}")
            };
            (group, ids)
        })
        .collect();
    // Stable: equal counts keep the order of their newest failure.
    groups.sort_by_key(|(group, _)| std::cmp::Reverse(group.messages));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_below_k_zero_included_are_not_given_as_numbers() {
        let counts = vec![
            ("invitation".to_string(), "sent".to_string(), 12),
            ("withdrawal_notice".to_string(), "sent".to_string(), 1),
            ("digest".to_string(), "sent".to_string(), 5),
        ];
        let rows = count_rows(&counts, 5);
        assert_eq!(rows.len(), Kind::ALL.len());
        let sent = STATUSES.iter().position(|s| *s == "sent").unwrap();
        let cell = |kind: &str| rows.iter().find(|r| r.kind == kind).unwrap().cells[sent].clone();
        assert_eq!(cell("Invitations"), "12");
        assert_eq!(cell("Digests"), "5");
        assert_eq!(cell("Withdrawal notices"), "fewer than 5");
        assert!(
            rows.iter()
                .flat_map(|r| &r.cells)
                .filter(|c| !["12", "5"].contains(&c.as_str()))
                .all(|c| c == "fewer than 5")
        );
    }

    #[test]
    fn failures_group_by_their_reason_with_every_address_hidden() {
        let rows: Vec<FailedRow> = vec![
            (
                9,
                "sam@example.com".into(),
                Some("550 5.1.1 <sam@example.com>: User unknown".into()),
                1,
            ),
            (
                8,
                "ana@example.com".into(),
                Some("550 5.1.1 <ana@example.com>: User unknown".into()),
                3,
            ),
            (
                7,
                "bo@example.com".into(),
                Some("554 5.7.1 rejected".into()),
                1,
            ),
            (6, "cy@example.com".into(), None, 2),
        ];
        let groups = failed_groups(&rows);
        let shown: Vec<(&str, usize, &str, &[i64])> = groups
            .iter()
            .map(|(g, ids)| {
                (
                    g.reason.as_str(),
                    g.messages,
                    g.attempts.as_str(),
                    ids.as_slice(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                (
                    "550 5.1.1 <address hidden>: User unknown",
                    2,
                    "1–3",
                    &[9, 8][..]
                ),
                ("554 5.7.1 rejected", 1, "1", &[7][..]),
                ("No reason recorded", 1, "2", &[6][..]),
            ]
        );
    }
}
