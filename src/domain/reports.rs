//! Aggregate reports, built from raw facts with every cell passed through
//! small-group suppression. One [`Table`] feeds both the HTML page and the
//! CSV export, so the two always agree.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use super::platforms::Platform;
use super::suppression::{Cell, complementary, events_cell, may_show, people_cell, trend};

pub struct PostFact {
    pub id: i64,
    pub title: String,
    /// None: for everyone; Some: for these departments.
    pub departments: Option<Vec<i64>>,
    pub published_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
}

/// What the reports count; rows never leave the builder.
pub struct Facts {
    /// Active employees and their department.
    pub employees: Vec<(i64, Option<i64>)>,
    pub departments: Vec<(i64, String)>,
    /// (person, platform) with a consent given now.
    pub opted_in: Vec<(i64, Platform)>,
    pub posts: Vec<PostFact>,
    /// (person, post, platform, when).
    pub shares: Vec<(i64, i64, Platform, NaiveDateTime)>,
    /// (person, post).
    pub dismissals: Vec<(i64, i64)>,
}

pub struct Week {
    pub label: String,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

pub struct Filters {
    pub platforms: Vec<Platform>,
    pub department: Option<i64>,
}

/// A table as shown and as exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn to_csv(&self) -> String {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let _ = writer.write_record(&self.columns);
        for row in &self.rows {
            let _ = writer.write_record(row.iter().map(|cell| neutralise_formula(cell)));
        }
        String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

/// A spreadsheet would run a cell starting with = + - @ (or a tab or CR)
/// as a formula; a leading apostrophe keeps it text (OWASP CSV injection).
fn neutralise_formula(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// One bar of the weekly chart.
pub struct Bar {
    pub label: String,
    pub value: Option<u64>,
}

pub struct Reports {
    pub posts: Table,
    pub platforms: Table,
    pub departments: Table,
    pub trend: Table,
    pub chart: Vec<Bar>,
    /// Departments large enough to be shown on their own.
    pub reportable_departments: Vec<(i64, String)>,
}

fn distinct<T: std::hash::Hash + Eq>(items: impl Iterator<Item = T>) -> u64 {
    items.collect::<HashSet<T>>().len() as u64
}

fn percent(part: u64, whole: u64) -> String {
    (part * 100 + whole / 2)
        .checked_div(whole)
        .map(|p| format!("{p}%"))
        .unwrap_or_default()
}

/// Departments with at least k active employees.
pub fn reportable_departments(facts: &Facts, k: u32) -> Vec<(i64, String)> {
    facts
        .departments
        .iter()
        .filter(|(id, _)| {
            facts
                .employees
                .iter()
                .filter(|(_, d)| *d == Some(*id))
                .count() as u64
                >= k as u64
        })
        .cloned()
        .collect()
}

pub fn build(
    facts: &Facts,
    filters: &Filters,
    weeks: &[Week],
    k: u32,
    now: NaiveDateTime,
) -> Reports {
    let population: HashSet<i64> = facts
        .employees
        .iter()
        .filter(|(_, d)| filters.department.is_none() || *d == filters.department)
        .map(|(u, _)| *u)
        .collect();
    let department_of: HashMap<i64, Option<i64>> = facts.employees.iter().copied().collect();
    let group = population.len() as u64;
    let platforms = &filters.platforms;

    // ---- per post
    let mut post_columns = vec!["Post".to_string()];
    post_columns.extend(platforms.iter().map(|p| format!("Shares on {}", p.name())));
    post_columns.extend(["People who shared", "Dismissals", "Days live"].map(String::from));
    let post_rows = facts
        .posts
        .iter()
        .map(|post| {
            let audience: HashSet<i64> = population
                .iter()
                .copied()
                .filter(|u| match &post.departments {
                    None => true,
                    Some(ds) => department_of
                        .get(u)
                        .copied()
                        .flatten()
                        .is_some_and(|d| ds.contains(&d)),
                })
                .collect();
            let size = audience.len() as u64;
            let shares: Vec<_> = facts
                .shares
                .iter()
                .filter(|(u, p, platform, _)| {
                    *p == post.id && audience.contains(u) && platforms.contains(platform)
                })
                .collect();
            let mut row = vec![post.title.clone()];
            for platform in platforms {
                let on: Vec<_> = shares.iter().filter(|s| s.2 == *platform).collect();
                row.push(
                    events_cell(on.len() as u64, distinct(on.iter().map(|s| s.0)), size, k).text(),
                );
            }
            row.push(people_cell(distinct(shares.iter().map(|s| s.0)), size, k).text());
            let dismissed = distinct(
                facts
                    .dismissals
                    .iter()
                    .filter(|(u, p)| *p == post.id && audience.contains(u))
                    .map(|(u, _)| *u),
            );
            row.push(people_cell(dismissed, size, k).text());
            let end = post.ended_at.unwrap_or(now).min(now);
            row.push(((end - post.published_at).num_days().max(0)).to_string());
            row
        })
        .collect();

    // ---- per platform, with weekly shares
    let mut platform_columns: Vec<String> = [
        "Platform",
        "People opted in",
        "Active people",
        "Opt-in rate",
    ]
    .map(String::from)
    .to_vec();
    platform_columns.extend(weeks.iter().map(|w| format!("Shares {}", w.label)));
    let opted = |platform: Platform, people: &HashSet<i64>| {
        distinct(
            facts
                .opted_in
                .iter()
                .filter(|(u, p)| *p == platform && people.contains(u))
                .map(|(u, _)| *u),
        )
    };
    let weekly = |platform: Option<Platform>| -> (Vec<Cell>, Vec<u64>) {
        let mut cells = Vec::new();
        let mut people = Vec::new();
        for week in weeks {
            let in_week: Vec<_> = facts
                .shares
                .iter()
                .filter(|(u, _, p, at)| {
                    population.contains(u)
                        && platform.is_none_or(|want| want == *p)
                        && platforms.contains(p)
                        && *at >= week.start
                        && *at < week.end
                })
                .collect();
            let sharers = distinct(in_week.iter().map(|s| s.0));
            cells.push(events_cell(in_week.len() as u64, sharers, group, k));
            people.push(sharers);
        }
        let cells = trend(&cells, &people, k);
        (cells, people)
    };
    let mut platform_rows = Vec::new();
    let mut platform_totals: HashMap<Platform, bool> = HashMap::new();
    for platform in platforms {
        let count = opted(*platform, &population);
        let cell = people_cell(count, group, k);
        platform_totals.insert(*platform, cell.is_shown());
        let mut row = vec![
            platform.name().to_string(),
            cell.text(),
            group.to_string(),
            if cell.is_shown() {
                percent(count, group)
            } else {
                "suppressed".into()
            },
        ];
        row.extend(weekly(Some(*platform)).0.iter().map(|c| c.text()));
        platform_rows.push(row);
    }

    // ---- per department: only groups of at least k, with complementary
    // suppression against the platform totals (small groups count as hidden).
    let reportable = reportable_departments(facts, k);
    let mut groups: Vec<(Option<i64>, String, HashSet<i64>)> = facts
        .departments
        .iter()
        .map(|(id, name)| {
            let members: HashSet<i64> = facts
                .employees
                .iter()
                .filter(|(_, d)| *d == Some(*id))
                .map(|(u, _)| *u)
                .collect();
            (Some(*id), name.clone(), members)
        })
        .collect();
    let unassigned: HashSet<i64> = facts
        .employees
        .iter()
        .filter(|(_, d)| d.is_none())
        .map(|(u, _)| *u)
        .collect();
    if !unassigned.is_empty() {
        groups.push((None, "No department".into(), unassigned));
    }
    let shown_group = |(id, _, members): &(Option<i64>, String, HashSet<i64>)| {
        filters.department.is_none()
            && (members.len() as u64) >= k as u64
            && id.is_none_or(|id| reportable.iter().any(|(r, _)| *r == id))
    };
    let mut department_columns: Vec<String> = vec!["Department".into(), "Members".into()];
    department_columns.extend(
        platforms
            .iter()
            .map(|p| format!("Opted in to {}", p.name())),
    );
    department_columns.push("People who shared".into());
    let mut columns: Vec<Vec<Cell>> = Vec::new();
    for platform in platforms {
        let values: Vec<u64> = groups.iter().map(|g| opted(*platform, &g.2)).collect();
        let cells: Vec<Cell> = groups
            .iter()
            .zip(&values)
            .map(|(g, v)| {
                if shown_group(g) {
                    people_cell(*v, g.2.len() as u64, k)
                } else {
                    Cell::Suppressed
                }
            })
            .collect();
        columns.push(
            complementary(
                &cells,
                &values,
                platform_totals.get(platform).copied().unwrap_or(false),
            )
            .0,
        );
    }
    let sharer_values: Vec<u64> = groups
        .iter()
        .map(|g| {
            distinct(
                facts
                    .shares
                    .iter()
                    .filter(|s| g.2.contains(&s.0) && platforms.contains(&s.2))
                    .map(|s| s.0),
            )
        })
        .collect();
    let sharer_cells: Vec<Cell> = groups
        .iter()
        .zip(&sharer_values)
        .map(|(g, v)| {
            if shown_group(g) {
                people_cell(*v, g.2.len() as u64, k)
            } else {
                Cell::Suppressed
            }
        })
        .collect();
    let total_sharers = distinct(
        facts
            .shares
            .iter()
            .filter(|s| population.contains(&s.0))
            .map(|s| s.0),
    );
    let sharer_cells = complementary(
        &sharer_cells,
        &sharer_values,
        may_show(total_sharers, group, k),
    )
    .0;
    let department_rows = groups
        .iter()
        .enumerate()
        .filter(|(_, g)| shown_group(g))
        .map(|(i, g)| {
            let mut row = vec![g.1.clone(), g.2.len().to_string()];
            row.extend(columns.iter().map(|c| c[i].text()));
            row.push(sharer_cells[i].text());
            row
        })
        .collect();

    // ---- trend over weeks, all selected platforms
    let (totals, people) = weekly(None);
    let people_cells = trend(
        &people
            .iter()
            .map(|p| people_cell(*p, group, k))
            .collect::<Vec<_>>(),
        &people,
        k,
    );
    let trend_rows = weeks
        .iter()
        .zip(totals.iter().zip(&people_cells))
        .map(|(w, (t, p))| vec![w.label.clone(), t.text(), p.text()])
        .collect();
    let chart = weeks
        .iter()
        .zip(&totals)
        .map(|(w, t)| Bar {
            label: w.label.clone(),
            value: match t {
                Cell::Shown(n) => Some(*n),
                Cell::Suppressed => None,
            },
        })
        .collect();

    Reports {
        posts: Table {
            columns: post_columns,
            rows: post_rows,
        },
        platforms: Table {
            columns: platform_columns,
            rows: platform_rows,
        },
        departments: Table {
            columns: department_columns,
            rows: department_rows,
        },
        trend: Table {
            columns: vec!["Week".into(), "Shares".into(), "People who shared".into()],
            rows: trend_rows,
        },
        chart,
        reportable_departments: reportable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(day: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + day * 86_400, 0)
            .unwrap()
            .naive_utc()
    }

    fn facts(employees: u64, sharers: u64) -> Facts {
        Facts {
            employees: (1..=employees as i64)
                .map(|u| (u, Some(if u % 2 == 0 { 10 } else { 20 })))
                .collect(),
            departments: vec![(10, "Even".into()), (20, "Odd".into())],
            opted_in: (1..=employees as i64)
                .map(|u| (u, Platform::X))
                .take(sharers as usize)
                .collect(),
            posts: vec![PostFact {
                id: 1,
                title: "Report".into(),
                departments: None,
                published_at: t(0),
                ended_at: None,
            }],
            shares: (1..=sharers as i64)
                .map(|u| (u, 1, Platform::X, t(1)))
                .collect(),
            dismissals: vec![],
        }
    }

    fn weeks() -> Vec<Week> {
        vec![Week {
            label: "W1".into(),
            start: t(0),
            end: t(7),
        }]
    }

    #[test]
    fn a_post_shared_by_fewer_than_k_is_suppressed_and_by_k_is_shown() {
        let filters = Filters {
            platforms: vec![Platform::X],
            department: None,
        };
        let few = build(&facts(20, 4), &filters, &weeks(), 5, t(3));
        assert_eq!(few.posts.rows[0][1], "suppressed");
        let enough = build(&facts(20, 5), &filters, &weeks(), 5, t(3));
        assert_eq!(enough.posts.rows[0][1], "5");
        assert_eq!(enough.posts.rows[0][2], "5");
        assert_eq!(enough.posts.rows[0][4], "3", "days live");
        let everyone = build(&facts(8, 8), &filters, &weeks(), 5, t(3));
        assert_eq!(
            everyone.posts.rows[0][1], "suppressed",
            "8 of 8 reveals everyone"
        );
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_as_formulas_stay_text() {
        let table = Table {
            columns: vec!["Post".into(), "Shares".into()],
            rows: vec![
                vec!["=HYPERLINK(\"http://evil\")".into(), "5".into()],
                vec!["@cmd".into(), "7".into()],
            ],
        };
        let csv = table.to_csv();
        assert!(
            csv.contains("'=HYPERLINK") && csv.contains("'@cmd") && csv.contains(",5"),
            "{csv}"
        );
    }

    #[test]
    fn small_departments_are_left_out_and_csv_matches_the_table() {
        let filters = Filters {
            platforms: vec![Platform::X],
            department: None,
        };
        let reports = build(&facts(12, 10), &filters, &weeks(), 5, t(3));
        assert_eq!(reports.departments.rows.len(), 2, "6 and 6 members");
        let small = build(&facts(8, 6), &filters, &weeks(), 5, t(3));
        assert!(
            small.departments.rows.is_empty(),
            "4 and 4 members: too small"
        );
        let csv = reports.platforms.to_csv();
        let mut lines = csv.lines();
        assert_eq!(lines.next().unwrap(), reports.platforms.columns.join(","));
        assert_eq!(lines.next().unwrap(), reports.platforms.rows[0].join(","));
    }
}
