//! The first, direct implementation of the reports: every number computed
//! straight from its definition, at O(posts × people) cost. Kept only as the
//! oracle the fast builder is compared with in property tests.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use super::super::disclosure_control::{
    Cell, Disclosure, Figure, Group, Measure, People, RecordKey, complementary,
};
use super::super::platforms::Platform;
use super::{
    ANY_PLATFORM, Facts, Filters, Reports, Table, Week, platform_set, trend_and_chart, week_id,
};

/// Departments with at least k active employees.
fn reportable_departments(facts: &Facts, k: u32) -> Vec<(i64, String)> {
    facts
        .departments
        .iter()
        .filter(|(id, _)| {
            facts
                .employees
                .iter()
                .filter(|e| e.department == Some(*id))
                .count() as u64
                >= k as u64
        })
        .cloned()
        .collect()
}

/// The people of a set of ids, for a count.
fn counted(ids: impl Iterator<Item = i64>, keys: &HashMap<i64, RecordKey>) -> People {
    let mut people = People::default();
    for id in ids.collect::<HashSet<_>>() {
        people.add(keys[&id]);
    }
    people
}

/// The people of a set of ids, as a group.
fn group_of(ids: &HashSet<i64>, keys: &HashMap<i64, RecordKey>) -> Group {
    let mut group = Group::default();
    for id in ids {
        group.add(keys[id]);
    }
    group
}

pub fn build_reference(facts: &Facts, filters: &Filters, weeks: &[Week], k: u32) -> Reports {
    let rules = Disclosure::new(k);
    let keys: HashMap<i64, RecordKey> = facts
        .employees
        .iter()
        .map(|e| (e.id, e.record_key))
        .collect();
    let population_ids: HashSet<i64> = facts
        .employees
        .iter()
        .filter(|e| filters.department.is_none() || e.department == filters.department)
        .map(|e| e.id)
        .collect();
    let population = group_of(&population_ids, &keys);
    let department_of: HashMap<i64, Option<i64>> = facts
        .employees
        .iter()
        .map(|e| (e.id, e.department))
        .collect();
    let group = population_ids.len() as u64;
    let platforms = &filters.platforms;
    let chosen = platform_set(platforms);

    // ---- per post
    let mut post_rows = super::PostRows::new(platforms, facts.posts.iter());
    for post in &facts.posts {
        {
            let audience_ids: HashSet<i64> = population_ids
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
            let audience = group_of(&audience_ids, &keys);
            let shares: Vec<_> = facts
                .shares
                .iter()
                .filter(|(u, p, platform, _)| {
                    *p == post.id && audience_ids.contains(u) && platforms.contains(platform)
                })
                .collect();
            let mut row = Vec::new();
            for platform in platforms {
                let on: Vec<_> = shares.iter().filter(|s| s.2 == *platform).collect();
                let figure = Figure::new(Measure::PostShares, &[post.id, *platform as i64]);
                let sharers = counted(on.iter().map(|s| s.0), &keys);
                row.push(rules.events(figure, on.len() as u64, &sharers, &audience));
            }
            let sharers = counted(shares.iter().map(|s| s.0), &keys);
            let figure = Figure::new(Measure::PostSharers, &[post.id, chosen]);
            row.push(rules.people(figure, &sharers, &audience));
            let dismissed = counted(
                facts
                    .dismissals
                    .iter()
                    .filter(|(u, p)| *p == post.id && audience_ids.contains(u))
                    .map(|(u, _)| *u),
                &keys,
            );
            let figure = Figure::new(Measure::PostDismissals, &[post.id]);
            row.push(rules.people(figure, &dismissed, &audience));
            post_rows.push(post, &row);
        }
    }

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
        counted(
            facts
                .opted_in
                .iter()
                .filter(|(u, p)| *p == platform && people.contains(u))
                .map(|(u, _)| *u),
            &keys,
        )
    };
    let in_week =
        |week: &Week, platform: Option<Platform>| -> Vec<(i64, i64, Platform, NaiveDateTime)> {
            facts
                .shares
                .iter()
                .filter(|(u, _, p, at)| {
                    population_ids.contains(u)
                        && platform.is_none_or(|want| want == *p)
                        && platforms.contains(p)
                        && *at >= week.start
                        && *at < week.end
                })
                .copied()
                .collect()
        };
    let weekly = |platform: Option<Platform>| -> Vec<Cell> {
        weeks
            .iter()
            .map(|week| {
                if !super::offered_in(facts, week, filters.department) {
                    return rules.nothing_offered();
                }
                let shares = in_week(week, platform);
                let set = platform.map_or(chosen, |p| platform_set(&[p]));
                let figure = Figure::new(Measure::WeekShares, &[week_id(week), set]);
                let sharers = counted(shares.iter().map(|s| s.0), &keys);
                rules.events(figure, shares.len() as u64, &sharers, &population)
            })
            .collect()
    };
    let mut platform_rows = Vec::new();
    let mut platform_totals: HashMap<Platform, bool> = HashMap::new();
    for platform in platforms {
        let figure = Figure::new(Measure::OptedIn, &[*platform as i64]);
        let cell = rules.people(figure, &opted(*platform, &population_ids), &population);
        platform_totals.insert(*platform, cell.is_shown());
        let mut row = vec![
            platform.name().to_string(),
            cell.text(),
            group.to_string(),
            cell.percent_of(group),
        ];
        row.extend(weekly(Some(*platform)).iter().map(|c| c.text()));
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
                .filter(|e| e.department == Some(*id))
                .map(|e| e.id)
                .collect();
            (Some(*id), name.clone(), members)
        })
        .collect();
    let unassigned: HashSet<i64> = facts
        .employees
        .iter()
        .filter(|e| e.department.is_none())
        .map(|e| e.id)
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
        let figure = Figure::new(Measure::OptedIn, &[*platform as i64]);
        let cells: Vec<Cell> = groups
            .iter()
            .map(|g| {
                if shown_group(g) {
                    rules.people(figure, &opted(*platform, &g.2), &group_of(&g.2, &keys))
                } else {
                    Cell::HIDDEN
                }
            })
            .collect();
        let total = platform_totals.get(platform).copied().unwrap_or(false);
        columns.push(complementary(&cells, total).0);
    }
    let since = weeks.first().map_or(0, week_id);
    let figure = Figure::new(Measure::PeriodSharers, &[since, chosen]);
    let sharer_cells: Vec<Cell> = groups
        .iter()
        .map(|g| {
            let sharers = counted(
                facts
                    .shares
                    .iter()
                    .filter(|s| g.2.contains(&s.0) && platforms.contains(&s.2))
                    .map(|s| s.0),
                &keys,
            );
            if shown_group(g) {
                rules.people(figure, &sharers, &group_of(&g.2, &keys))
            } else {
                Cell::HIDDEN
            }
        })
        .collect();
    let everyone_sharers = counted(
        facts
            .shares
            .iter()
            .filter(|s| population_ids.contains(&s.0))
            .map(|s| s.0),
        &keys,
    );
    let everyone = rules.people(
        Figure::new(Measure::PeriodSharers, &[since, ANY_PLATFORM]),
        &everyone_sharers,
        &population,
    );
    let sharer_cells = complementary(&sharer_cells, everyone.is_shown()).0;
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
    let totals = weekly(None);
    let sharers: Vec<Cell> = weeks
        .iter()
        .map(|week| {
            if !super::offered_in(facts, week, filters.department) {
                return rules.nothing_offered();
            }
            let people = counted(in_week(week, None).iter().map(|s| s.0), &keys);
            let figure = Figure::new(Measure::WeekSharers, &[week_id(week), chosen]);
            rules.people(figure, &people, &population)
        })
        .collect();
    let (trend_table, chart) = trend_and_chart(weeks, &totals, &sharers);

    Reports {
        headline: super::Headline {
            opted_in: Cell::HIDDEN,
            population: 0,
            weekly_shares: totals.clone(),
            posts_published: facts.posts.len(),
        },
        posts: post_rows,
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
