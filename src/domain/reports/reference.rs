//! The first, direct implementation of the reports: every number computed
//! straight from its definition, at O(posts × people) cost. Kept only as the
//! oracle the fast builder is compared with in property tests.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use super::super::platforms::Platform;
use super::super::suppression::{Cell, complementary, events_cell, may_show, people_cell, trend};
use super::{Facts, Filters, Reports, Table, Week, distinct, percent, trend_and_chart};

/// Departments with at least k active employees.
fn reportable_departments(facts: &Facts, k: u32) -> Vec<(i64, String)> {
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

pub fn build_reference(
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
    let (trend_table, chart) = trend_and_chart(weeks, &totals, &people, group, k);

    Reports {
        posts: Table {
            columns: post_columns,
            rows: post_rows,
        },
        post_spans: facts
            .posts
            .iter()
            .map(|post| (post.published_at, post.ended_at))
            .collect(),
        platforms: Table {
            columns: platform_columns,
            rows: platform_rows,
        },
        departments: Table {
            columns: department_columns,
            rows: department_rows,
        },
        trend: trend_table,
        chart,
        reportable_departments: reportable,
    }
}
