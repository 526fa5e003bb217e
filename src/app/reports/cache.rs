//! Built reports, kept while nothing they count has changed. The key holds
//! the report generation (a counter triggers bump with every change to
//! people, consent, posts, shares or dismissals), the filters, the settings
//! that shape the tables, and the week (the calendar ends this week). So a
//! cached report is exactly what a fresh build would give, and an admin
//! opening the reports page a hundred times costs one build.
//!
//! One build runs at a time per process: a burst of requests after a change
//! waits for that build instead of loading the same rows many times over.

use std::sync::{Arc, Mutex, PoisonError};

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

/// How many filter combinations are kept for one generation.
const ENTRIES: usize = 32;

#[derive(Default)]
struct Entries {
    generation: i64,
    reports: Vec<(ReportKey, Arc<Reports>)>,
}

#[derive(Default)]
pub struct ReportCache {
    entries: Mutex<Entries>,
    building: tokio::sync::Mutex<()>,
}

impl ReportCache {
    fn cached(&self, generation: i64, key: &ReportKey) -> Option<Arc<Reports>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.generation != generation {
            return None;
        }
        entries
            .reports
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, r)| r.clone())
    }

    fn keep(&self, generation: i64, key: ReportKey, reports: Arc<Reports>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.generation != generation {
            entries.generation = generation;
            entries.reports.clear();
        }
        // An older week of the same filters is never asked for again.
        entries.reports.retain(|(k, _)| k.week == key.week);
        if entries.reports.len() >= ENTRIES {
            entries.reports.remove(0);
        }
        entries.reports.push((key, reports));
    }

    /// The cached report for this generation and key, or the one `build`
    /// makes (then kept). Errors are not kept.
    pub async fn get_or_build<E, F, Fut>(
        &self,
        generation: i64,
        key: ReportKey,
        build: F,
    ) -> Result<Arc<Reports>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Reports, E>>,
    {
        if let Some(reports) = self.cached(generation, &key) {
            return Ok(reports);
        }
        let _building = self.building.lock().await;
        if let Some(reports) = self.cached(generation, &key) {
            return Ok(reports);
        }
        let reports = Arc::new(build().await?);
        self.keep(generation, key, reports.clone());
        Ok(reports)
    }
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
            posts: table(title),
            platforms: table(title),
            departments: table(title),
            trend: table(title),
            post_spans: vec![],
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

    async fn title(cache: &ReportCache, generation: i64, key: ReportKey, fresh: &str) -> String {
        let fresh = fresh.to_string();
        cache
            .get_or_build(
                generation,
                key,
                || async move { Ok::<_, ()>(reports(&fresh)) },
            )
            .await
            .unwrap()
            .posts
            .columns[0]
            .clone()
    }

    #[actix_web::test]
    async fn a_report_is_built_again_when_the_data_the_week_or_the_filters_change() {
        let cache = ReportCache::default();
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
            .get_or_build(2, key(102), || async { Err::<Reports, _>("db down") })
            .await;
        assert!(failed.is_err());
        assert_eq!(
            title(&cache, 2, key(102), "seventh").await,
            "seventh",
            "errors are not kept"
        );
    }
}
