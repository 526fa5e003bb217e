//! Built reports, kept while nothing they count has changed. The key holds
//! the report generation (a counter triggers bump with every change to
//! people, consent, posts, shares or dismissals), the filters, the settings
//! that shape the tables, and the week (the calendar ends this week). So a
//! cached report is exactly what a fresh build would give, and an admin
//! opening the reports page a hundred times costs one build.
//!
//! One build runs at a time per process: a burst of requests after a change
//! waits for that build instead of loading the same rows many times over.
//! The build runs as a task of its own, so a page that may show the last
//! figures ([`Patience::AtMost`]) stops waiting after a while and shows the
//! report of the generation before (same filters, settings and week), said
//! to be counting, while the build goes on and is kept for the next view.
//! At a million employees a build after a new share streams ten million
//! rows (seconds); the page stays quick, and the CSV and the API, which
//! wait ([`Patience::Exact`]), stay exact.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::domain::platforms::Platform;
use crate::domain::reports::Reports;

/// Everything besides the data that decides what a report shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportKey {
    pub weeks: u32,
    pub platforms: Vec<Platform>,
    pub department: Option<i64>,
    pub k: u32,
    pub timezone: String,
    /// Start of the current week (UTC), the last column of the calendar.
    pub week: chrono::NaiveDateTime,
}

/// How long a caller waits for a report of the current generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patience {
    /// Until it is built: the figures as of now.
    Exact,
    /// This long, then the last generation's report for the same key, if
    /// there is one (else until it is built).
    AtMost(Duration),
}

/// A report from the cache, and whether it is the last generation's while
/// the current one is being counted.
#[derive(Clone)]
pub struct Kept {
    pub reports: Arc<Reports>,
    pub counting: bool,
}

/// How many filter combinations are kept for one generation.
const ENTRIES: usize = 32;

/// How many bytes the kept reports may hold together, the newest kept
/// whatever its size. A report lists every post of its period: at a
/// million employees (50,000 posts in twelve weeks) about 12 MB, at
/// 100,000 about 1 MB.
const KEPT_BYTES: usize = 24 << 20;

type Entry = (ReportKey, Arc<Reports>);

#[derive(Default)]
struct Entries {
    generation: i64,
    reports: Vec<Entry>,
    /// The reports of the generation before, for [`Patience::AtMost`].
    before: Vec<Entry>,
}

#[derive(Default)]
pub struct ReportCache {
    entries: Mutex<Entries>,
    building: Arc<tokio::sync::Mutex<()>>,
}

impl ReportCache {
    fn cached(&self, generation: i64, key: &ReportKey) -> Option<Arc<Reports>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.generation != generation {
            return None;
        }
        find(&entries.reports, key)
    }

    /// The newest report for `key` of a generation before `generation`.
    fn earlier(&self, generation: i64, key: &ReportKey) -> Option<Arc<Reports>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.generation < generation {
            find(&entries.reports, key).or_else(|| find(&entries.before, key))
        } else {
            find(&entries.before, key)
        }
    }

    fn forget(&self, key: &ReportKey) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.reports.retain(|(k, _)| k != key);
        entries.before.retain(|(k, _)| k != key);
    }

    fn keep(&self, generation: i64, key: ReportKey, reports: Arc<Reports>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.generation > generation {
            // A build that started before a newer one finished.
            return;
        }
        if entries.generation != generation {
            entries.generation = generation;
            entries.before = std::mem::take(&mut entries.reports);
        }
        // An older week of the same filters is never asked for again.
        entries.reports.retain(|(k, _)| k.week == key.week);
        if entries.reports.len() >= ENTRIES {
            entries.reports.remove(0);
        }
        entries.reports.push((key, reports));
        // Over the budget, the last generation's go first, then the oldest
        // of this one.
        let size = |entry: &Entry| entry.1.approximate_bytes();
        let mut kept: usize = entries
            .before
            .iter()
            .chain(&entries.reports)
            .map(size)
            .sum();
        while kept > KEPT_BYTES && !entries.before.is_empty() {
            kept -= size(&entries.before.remove(0));
        }
        while kept > KEPT_BYTES && entries.reports.len() > 1 {
            kept -= size(&entries.reports.remove(0));
        }
    }

    /// The cached report for this generation and key, or the one `build`
    /// makes (then kept); with [`Patience::AtMost`], possibly the last
    /// generation's while `build` goes on. Errors are not kept.
    pub async fn get_or_build<E, F, Fut>(
        self: &Arc<Self>,
        generation: i64,
        key: ReportKey,
        patience: Patience,
        build: F,
    ) -> Result<Kept, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Reports, E>> + Send + 'static,
        E: Send + 'static,
    {
        let fresh = |reports| Kept {
            reports,
            counting: false,
        };
        if let Some(reports) = self.cached(generation, &key) {
            return Ok(fresh(reports));
        }
        let earlier = match patience {
            Patience::AtMost(wait) => self.earlier(generation, &key).map(|r| (r, wait)),
            Patience::Exact => None,
        };
        let counting = |reports| Kept {
            reports,
            counting: true,
        };
        let turn = self.building.clone().lock_owned();
        let turn = match &earlier {
            Some((reports, wait)) => match tokio::time::timeout(*wait, turn).await {
                Ok(turn) => turn,
                Err(_) => return Ok(counting(reports.clone())),
            },
            None => turn.await,
        };
        if let Some(reports) = self.cached(generation, &key) {
            return Ok(fresh(reports));
        }
        let cache = self.clone();
        let work = build();
        let mut task = tokio::spawn(async move {
            let _turn = turn;
            match work.await {
                Ok(reports) => {
                    let reports = Arc::new(reports);
                    cache.keep(generation, key, reports.clone());
                    Ok(reports)
                }
                Err(error) => {
                    // Such as a department now under k: its last figures
                    // are not shown in place of the refusal.
                    cache.forget(&key);
                    Err(error)
                }
            }
        });
        let joined = match earlier {
            Some((reports, wait)) => match tokio::time::timeout(wait, &mut task).await {
                Ok(joined) => joined,
                Err(_) => return Ok(counting(reports)),
            },
            None => task.await,
        };
        match joined {
            Ok(built) => built.map(fresh),
            Err(failed) => std::panic::resume_unwind(failed.into_panic()),
        }
    }
}

fn find(entries: &[Entry], key: &ReportKey) -> Option<Arc<Reports>> {
    entries
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, r)| r.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reports::Table;

    fn reports(title: &str) -> Reports {
        let table = |t: &str| Table {
            columns: vec![t.into()],
            rows: vec![],
        };
        Reports {
            headline: crate::domain::reports::Headline {
                opted_in: crate::domain::reports::Cell::HIDDEN,
                population: 0,
                weekly_shares: vec![],
                posts_published: 0,
            },
            posts: crate::domain::reports::PostRows::default(),
            platforms: table(title),
            departments: table(title),
            trend: table(title),
            chart: vec![],
            reportable_departments: vec![],
        }
    }

    fn key(week: i64) -> ReportKey {
        ReportKey {
            weeks: 12,
            platforms: vec![Platform::X],
            department: None,
            k: 5,
            timezone: "UTC".into(),
            week: chrono::DateTime::from_timestamp(week * 604_800, 0)
                .unwrap()
                .naive_utc(),
        }
    }

    async fn title(
        cache: &Arc<ReportCache>,
        generation: i64,
        key: ReportKey,
        fresh: &str,
    ) -> String {
        title_of_size(cache, generation, key, fresh, 0).await
    }

    /// A report holding about `mib` MiB.
    fn report_of(title: &str, mib: usize) -> Reports {
        let mut report = reports(title);
        if mib > 0 {
            report.departments.columns.push("x".repeat(mib << 20));
        }
        report
    }

    /// The title of the report kept for `key` at `generation`, built as
    /// one of `fresh` holding about `mib` MiB when none is kept.
    async fn title_of_size(
        cache: &Arc<ReportCache>,
        generation: i64,
        key: ReportKey,
        fresh: &str,
        mib: usize,
    ) -> String {
        let fresh = fresh.to_string();
        cache
            .get_or_build(generation, key, Patience::Exact, move || async move {
                Ok::<_, ()>(report_of(&fresh, mib))
            })
            .await
            .unwrap()
            .reports
            .platforms
            .columns[0]
            .clone()
    }

    #[actix_web::test]
    async fn kept_reports_stay_within_their_memory_and_the_newest_is_kept_whatever_its_size() {
        let cache = Arc::new(ReportCache::default());
        let department = |d| ReportKey {
            department: Some(d),
            ..key(100)
        };
        for d in 1..=3 {
            assert_eq!(
                title_of_size(&cache, 1, department(d), &format!("built {d}"), 10).await,
                format!("built {d}")
            );
        }
        // 30 MiB asked for, 24 MiB allowed: the oldest went.
        assert_eq!(
            title_of_size(&cache, 1, department(3), "again", 10).await,
            "built 3",
            "kept"
        );
        assert_eq!(
            title_of_size(&cache, 1, department(2), "again", 10).await,
            "built 2",
            "kept"
        );
        assert_eq!(
            title_of_size(&cache, 1, department(1), "again", 10).await,
            "again",
            "let go"
        );
        assert_eq!(
            title_of_size(&cache, 1, department(4), "huge", 40).await,
            "huge"
        );
        assert_eq!(
            title_of_size(&cache, 1, department(4), "again", 1).await,
            "huge",
            "the newest stays"
        );
        assert_eq!(
            title_of_size(&cache, 1, department(1), "again", 1).await,
            "again",
            "the rest went"
        );
    }

    #[actix_web::test]
    async fn a_report_is_built_again_when_the_data_the_week_or_the_filters_change() {
        let cache = Arc::new(ReportCache::default());
        assert_eq!(title(&cache, 1, key(100), "first").await, "first");
        assert_eq!(title(&cache, 1, key(100), "second").await, "first", "kept");
        assert_eq!(
            title(&cache, 2, key(100), "third").await,
            "third",
            "data changed"
        );
        assert_eq!(
            title(&cache, 2, key(101), "fourth").await,
            "fourth",
            "a week on"
        );
        let other = ReportKey {
            department: Some(3),
            ..key(101)
        };
        assert_eq!(title(&cache, 2, other.clone(), "fifth").await, "fifth");
        assert_eq!(
            title(&cache, 2, key(101), "sixth").await,
            "fourth",
            "both kept"
        );
        let failed = cache
            .get_or_build(2, key(102), Patience::Exact, || async {
                Err::<Reports, _>("db down")
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(
            title(&cache, 2, key(102), "seventh").await,
            "seventh",
            "errors are not kept"
        );
    }

    /// A build that takes `seconds`, titled `fresh`.
    async fn slow(
        cache: &Arc<ReportCache>,
        generation: i64,
        patience: Patience,
        fresh: &str,
        seconds: u64,
    ) -> (String, bool) {
        let fresh = fresh.to_string();
        let kept = cache
            .get_or_build(generation, key(100), patience, || async move {
                tokio::time::sleep(Duration::from_secs(seconds)).await;
                Ok::<_, ()>(reports(&fresh))
            })
            .await
            .unwrap();
        (kept.reports.platforms.columns[0].clone(), kept.counting)
    }

    #[tokio::test(start_paused = true)]
    async fn a_page_that_may_wait_a_second_gets_the_last_figures_while_a_slow_build_goes_on() {
        let cache = Arc::new(ReportCache::default());
        let second = Patience::AtMost(Duration::from_secs(1));
        assert_eq!(
            slow(&cache, 1, second, "first", 5).await,
            ("first".into(), false),
            "nothing earlier to show: it waits"
        );
        assert_eq!(
            slow(&cache, 2, second, "second", 5).await,
            ("first".into(), true),
            "the last figures, said to be counting"
        );
        assert_eq!(
            slow(&cache, 2, second, "again", 5).await,
            ("first".into(), true),
            "one build at a time: a second view waits for the first build, not a new one"
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(
            slow(&cache, 2, second, "unused", 5).await,
            ("second".into(), false),
            "the build went on and was kept"
        );
        assert_eq!(
            slow(&cache, 3, Patience::Exact, "third", 5).await,
            ("third".into(), false),
            "the CSV and the API wait for the figures as of now"
        );
        let other = ReportKey { k: 7, ..key(100) };
        let kept = cache
            .get_or_build(4, other, second, || async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<_, ()>(reports("k of 7"))
            })
            .await
            .unwrap();
        assert_eq!(
            (kept.reports.platforms.columns[0].as_str(), kept.counting),
            ("k of 7", false),
            "figures under other settings are never shown in their place"
        );
        let refused = cache
            .get_or_build(5, key(100), second, || async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Err::<Reports, _>("fewer than k")
            })
            .await;
        assert!(refused.is_ok(), "the last figures while it counts");
        tokio::time::sleep(Duration::from_secs(5)).await;
        let refused = cache
            .get_or_build(5, key(100), second, || async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Err::<Reports, _>("fewer than k")
            })
            .await;
        assert_eq!(
            refused.err(),
            Some("fewer than k"),
            "after a refusal, its last figures are gone"
        );
    }
}
