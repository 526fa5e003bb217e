//! Aggregate reports, built from raw facts with every cell passed through
//! the one disclosure-control path ([`super::disclosure_control`]): shifted
//! by its cell key and suppressed in small groups. One [`Table`] feeds the
//! HTML page, the CSV export and the API, so they always agree.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use self::counting::Counts;
pub use self::counting::{PersonRows, PersonShare, Tally};
pub use super::disclosure_control::Cell;
use super::disclosure_control::{
    Disclosure, Figure, Group, Measure, People, RecordKey, complementary,
};
use super::platforms::Platform;

/// An active employee as the reports see them.
#[derive(Debug, Clone, PartialEq)]
pub struct Employee {
    pub id: i64,
    pub department: Option<i64>,
    pub record_key: RecordKey,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PostFact {
    pub id: i64,
    pub title: String,
    /// None: for everyone; Some: for these departments.
    pub departments: Option<Vec<i64>>,
    pub published_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
}

/// What the reports count; rows never leave the builder. The rows about
/// people (`employees`, `opted_in`, `shares`, `dismissals`) are here when
/// held at once (tests, checks); the server leaves them empty and streams
/// them into a [`Tally`] a range of people at a time ([`PersonRows`]), so
/// its memory grows with the posts, not with the people.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// Active employees, their department and record key.
    pub employees: Vec<Employee>,
    pub departments: Vec<(i64, String)>,
    /// (person, platform) with a consent given now.
    pub opted_in: Vec<(i64, Platform)>,
    pub posts: Vec<PostFact>,
    /// Every post that was in people's queues at some time in the period,
    /// whenever it was published: the weeks without any are weeks in which
    /// nothing could be shared (shown as 0, not hidden). Their titles are
    /// not read (the store leaves them empty).
    pub offered: Vec<PostFact>,
    /// (person, post, platform, when): every share recorded since the
    /// period began.
    pub shares: Vec<(i64, i64, Platform, NaiveDateTime)>,
    /// (person, post).
    pub dismissals: Vec<(i64, i64)>,
}

pub struct Week {
    pub label: String,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

#[derive(Debug)]
pub struct Filters {
    pub platforms: Vec<Platform>,
    pub department: Option<i64>,
}

/// Rows held at once: each range's added to the facts.
impl PersonRows for Facts {
    fn people(&mut self, employees: &[Employee], opted_in: &[(i64, Platform)]) {
        self.employees.extend_from_slice(employees);
        self.opted_in.extend_from_slice(opted_in);
    }

    fn shares_of(&mut self, user: i64, shares: &[PersonShare]) {
        self.shares.extend(
            shares
                .iter()
                .map(|(post, platform, at)| (user, *post, *platform, *at)),
        );
    }

    fn dismissals_of(&mut self, user: i64, posts: &[i64]) {
        self.dismissals
            .extend(posts.iter().map(|post| (user, *post)));
    }
}

/// A table as shown and as exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

fn days_live(
    published_at: NaiveDateTime,
    ended_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> String {
    let end = ended_at.unwrap_or(now).min(now);
    (end - published_at).num_days().max(0).to_string()
}

/// The posts table as a report keeps it: the figures as cells, made text
/// when shown. A period of a very busy hub lists tens of thousands of
/// posts, and a kept report holds them all for the CSV (twice while a new
/// one is built and the page still shows the last): as text, about 560
/// bytes a post; as a row with its own title and cells, about 220; packed
/// into a few vectors shared by every row, as here, about 90.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostRows {
    pub columns: Vec<String>,
    /// Every row's title, one after the other.
    titles: String,
    /// Where each row's title ends in `titles`.
    title_ends: Vec<usize>,
    /// Each row's cells, one after the other: shares on each chosen
    /// platform, then people who shared, then dismissals.
    cells: Vec<PackedCell>,
    /// When each row's post was published, and when it ended.
    lives: Vec<(NaiveDateTime, Option<NaiveDateTime>)>,
}

/// A [`Cell`] in four bytes: its figure, or `HIDDEN`. A figure past what
/// four bytes hold (four billion shares of one post) reads as the largest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PackedCell(u32);

impl PackedCell {
    const HIDDEN: PackedCell = PackedCell(u32::MAX);

    fn of(cell: Cell) -> PackedCell {
        cell.value().map_or(PackedCell::HIDDEN, |figure| {
            PackedCell(
                u32::try_from(figure)
                    .unwrap_or(u32::MAX - 1)
                    .min(u32::MAX - 1),
            )
        })
    }

    fn text(self) -> String {
        if self == PackedCell::HIDDEN {
            Cell::HIDDEN.text()
        } else {
            self.0.to_string()
        }
    }
}

impl PostRows {
    /// An empty table for `posts` rows with these posts' titles.
    fn new<'a>(platforms: &[Platform], posts: impl Iterator<Item = &'a PostFact>) -> PostRows {
        let mut columns = vec!["Post".to_string()];
        columns.extend(platforms.iter().map(|p| format!("Shares on {}", p.name())));
        columns.extend(["People who shared", "Dismissals", "Days live"].map(String::from));
        let (rows, title_bytes) = posts.fold((0, 0), |(rows, bytes), post| {
            (rows + 1, bytes + post.title.len())
        });
        PostRows {
            titles: String::with_capacity(title_bytes),
            title_ends: Vec::with_capacity(rows),
            cells: Vec::with_capacity(rows * (platforms.len() + 2)),
            lives: Vec::with_capacity(rows),
            columns,
        }
    }

    /// A post's row: its share cells per chosen platform, then people who
    /// shared, then dismissals.
    fn push(&mut self, post: &PostFact, cells: &[Cell]) {
        debug_assert_eq!(cells.len(), self.cells_per_row());
        self.titles.push_str(&post.title);
        self.title_ends.push(self.titles.len());
        self.cells
            .extend(cells.iter().map(|cell| PackedCell::of(*cell)));
        self.lives.push((post.published_at, post.ended_at));
    }

    fn cells_per_row(&self) -> usize {
        // Every column but the title and "Days live".
        self.columns.len().saturating_sub(2)
    }

    pub fn len(&self) -> usize {
        self.lives.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lives.is_empty()
    }

    /// Row `index` as text, with "Days live" counted to `now`.
    fn row_text(&self, index: usize, now: NaiveDateTime) -> Vec<String> {
        let start = index
            .checked_sub(1)
            .map_or(0, |before| self.title_ends[before]);
        let per_row = self.cells_per_row();
        let mut text = Vec::with_capacity(per_row + 2);
        text.push(self.titles[start..self.title_ends[index]].to_string());
        text.extend(
            self.cells[index * per_row..(index + 1) * per_row]
                .iter()
                .map(|cell| cell.text()),
        );
        let (published_at, ended_at) = self.lives[index];
        text.push(days_live(published_at, ended_at, now));
        text
    }

    fn approximate_bytes(&self) -> usize {
        use std::mem::size_of;
        self.titles.capacity()
            + self.title_ends.capacity() * size_of::<usize>()
            + self.cells.capacity() * size_of::<PackedCell>()
            + self.lives.capacity() * size_of::<(NaiveDateTime, Option<NaiveDateTime>)>()
    }
}

impl Reports {
    /// About how many bytes of memory the report holds (mostly its posts).
    pub fn approximate_bytes(&self) -> usize {
        let table = |t: &Table| -> usize {
            t.columns
                .iter()
                .chain(t.rows.iter().flatten())
                .map(|text| std::mem::size_of::<String>() + text.len())
                .sum()
        };
        std::mem::size_of::<Reports>()
            + self.posts.approximate_bytes()
            + table(&self.platforms)
            + table(&self.departments)
            + table(&self.trend)
    }

    /// The last `rows` rows of the posts table (all with None), with
    /// "Days live" counted to `now`: a kept report stays right as days pass.
    pub fn posts_as_of(&self, now: NaiveDateTime, rows: Option<usize>) -> Table {
        let all = self.posts.len();
        let skip = rows.map_or(0, |n| all.saturating_sub(n));
        Table {
            columns: self.posts.columns.clone(),
            rows: (skip..all)
                .map(|index| self.posts.row_text(index, now))
                .collect(),
        }
    }
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

/// The figures at the top of the page, each from the disclosure-control
/// path or from the hub's own facts.
#[derive(Debug, Clone)]
pub struct Headline {
    /// People opted in to at least one of the chosen platforms, and the
    /// active people they are part of.
    pub opted_in: Cell,
    pub population: u64,
    /// The period's weekly share figures as published (hidden weeks are
    /// hidden here too).
    pub weekly_shares: Vec<Cell>,
    /// Posts published in the period: the hub's own count (the posts
    /// table lists each), about no one's choices.
    pub posts_published: usize,
}

/// Shares in the latest half of the period against the half before it,
/// added up from the published weekly figures only (no figure of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareTrend {
    /// Weeks in each half.
    pub weeks: usize,
    pub recent: u64,
    pub earlier: u64,
    /// Whether every week of both halves is shown (else hidden weeks are
    /// missing from the sums, and the two are not compared).
    pub complete: bool,
    /// Whether any week of the latest half is shown.
    pub any_recent: bool,
}

impl Headline {
    pub fn share_trend(&self) -> ShareTrend {
        let n = self.weekly_shares.len();
        let half = n / 2;
        let earlier = &self.weekly_shares[n - 2 * half..n - half];
        let recent = &self.weekly_shares[n - half..];
        let sum = |cells: &[Cell]| cells.iter().filter_map(|c| c.value()).sum();
        ShareTrend {
            weeks: half,
            recent: sum(recent),
            earlier: sum(earlier),
            complete: earlier.iter().chain(recent).all(|c| c.is_shown()),
            any_recent: recent.iter().any(|c| c.is_shown()),
        }
    }
}

pub struct Reports {
    pub headline: Headline,
    /// Shown through [`Reports::posts_as_of`], "Days live" as of then.
    pub posts: PostRows,
    pub platforms: Table,
    pub departments: Table,
    pub trend: Table,
    pub chart: Vec<Bar>,
    /// Departments large enough to be shown on their own.
    pub reportable_departments: Vec<(i64, String)>,
}

/// Departments with at least k active employees, given how many each has.
pub fn reportable_departments(
    departments: &[(i64, String)],
    members: impl Fn(i64) -> u64,
    k: u32,
) -> Vec<(i64, String)> {
    departments
        .iter()
        .filter(|(id, _)| members(*id) >= k as u64)
        .cloned()
        .collect()
}

/// A set of platforms as one number, for figures' identities.
fn platform_set(platforms: &[Platform]) -> i64 {
    platforms.iter().fold(0, |set, p| set | 1 << (*p as u32))
}

/// Stands for "any platform, enabled or not" in a figure's identity.
const ANY_PLATFORM: i64 = -1;

fn week_id(week: &Week) -> i64 {
    week.start.and_utc().timestamp()
}

fn merged(groups: impl Iterator<Item = Group>) -> Group {
    groups.fold(Group::default(), |mut all, group| {
        all.merge(&group);
        all
    })
}

/// The weekly trend table and its chart, from each week's published share
/// and sharer cells.
fn trend_and_chart(weeks: &[Week], totals: &[Cell], people: &[Cell]) -> (Table, Vec<Bar>) {
    let rows = weeks
        .iter()
        .zip(totals.iter().zip(people))
        .map(|(w, (t, p))| vec![w.label.clone(), t.text(), p.text()])
        .collect();
    let chart = weeks
        .iter()
        .zip(totals)
        .map(|(w, t)| Bar {
            label: w.label.clone(),
            value: t.value(),
        })
        .collect();
    let table = Table {
        columns: vec!["Week".into(), "Shares".into(), "People who shared".into()],
        rows,
    };
    (table, chart)
}

/// Builds every table from facts with their shares and dismissals at hand,
/// through a [`Tally`] (the server streams those rows into one instead), so
/// the cost grows with the number of rows, not with posts × people. It
/// gives the same tables as the direct definitions
/// (`reference::build_reference`, compared in property tests). Every number
/// about people's choices comes from [`Disclosure`].
pub fn build(facts: &Facts, filters: &Filters, weeks: &[Week], k: u32) -> Reports {
    let mut tally = Tally::new(facts, filters, weeks);
    tally.add_rows_of_facts();
    tally.reports(k)
}

impl Tally<'_> {
    /// The reports of the facts, filters and weeks the tally was made for,
    /// from the shares and dismissals it was given.
    pub fn reports(self, k: u32) -> Reports {
        let (facts, filters, weeks) = (self.facts, self.filters, self.calendar_weeks);
        let counts = self.finish();
        build_counted(facts, filters, weeks, &counts, k)
    }
}

fn build_counted(
    facts: &Facts,
    filters: &Filters,
    weeks: &[Week],
    counts: &Counts,
    k: u32,
) -> Reports {
    let rules = Disclosure::new(k);
    let platforms = &filters.platforms;
    let chosen = platform_set(platforms);
    let departments = &counts.departments;
    let in_population =
        |department: Option<i64>| filters.department.is_none() || filters.department == department;
    let population = merged(
        departments
            .iter()
            .filter(|(d, _)| in_population(**d))
            .map(|(_, g)| *g),
    );
    let group = population.size();

    // ---- per post
    let mut post_rows = PostRows::new(platforms, facts.posts.iter());
    for (index, post) in facts.posts.iter().enumerate() {
        let audience = match &post.departments {
            None => population,
            Some(ds) => merged(
                ds.iter()
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .filter(|d| in_population(Some(**d)))
                    .filter_map(|d| departments.get(&Some(*d)).copied()),
            ),
        };
        let mut cells = Vec::with_capacity(platforms.len() + 2);
        for (i, platform) in platforms.iter().enumerate() {
            let figure = Figure::new(Measure::PostShares, &[post.id, *platform as i64]);
            let events = counts.post_events(index, i);
            let sharers = counts.post_people(index, i);
            cells.push(rules.events(figure, events, sharers, &audience));
        }
        let sharers = Figure::new(Measure::PostSharers, &[post.id, chosen]);
        cells.push(rules.people(sharers, &counts.post_sharers[index], &audience));
        let dismissals = Figure::new(Measure::PostDismissals, &[post.id]);
        cells.push(rules.people(dismissals, &counts.post_dismissals[index], &audience));
        post_rows.push(post, &cells);
    }

    // ---- shares per week, per platform or on all chosen platforms; a week
    // in which no post reached the population had nothing to share.
    let offered: Vec<bool> = weeks
        .iter()
        .map(|week| offered_in(facts, week, filters.department))
        .collect();
    let weekly = |platform: Option<usize>| -> Vec<Cell> {
        weeks
            .iter()
            .enumerate()
            .map(|(w, week)| {
                if !offered[w] {
                    return rules.nothing_offered();
                }
                let (events, sharers, set) = match platform {
                    Some(i) => (
                        counts.week_events(w, i),
                        counts.week_platform_people(w, i),
                        platform_set(&platforms[i..=i]),
                    ),
                    None => (
                        (0..platforms.len()).map(|i| counts.week_events(w, i)).sum(),
                        &counts.week_people[w],
                        chosen,
                    ),
                };
                let figure = Figure::new(Measure::WeekShares, &[week_id(week), set]);
                rules.events(figure, events, sharers, &population)
            })
            .collect()
    };

    // ---- per platform
    let mut platform_columns: Vec<String> = [
        "Platform",
        "People opted in",
        "Active people",
        "Opt-in rate",
    ]
    .map(String::from)
    .to_vec();
    platform_columns.extend(weeks.iter().map(|w| format!("Shares {}", w.label)));
    let mut platform_rows = Vec::new();
    let mut platform_totals: HashMap<Platform, bool> = HashMap::new();
    for (i, platform) in platforms.iter().enumerate() {
        let opted = counts
            .opted_population
            .get(platform)
            .copied()
            .unwrap_or_default();
        let figure = Figure::new(Measure::OptedIn, &[*platform as i64]);
        let cell = rules.people(figure, &opted, &population);
        platform_totals.insert(*platform, cell.is_shown());
        let mut row = vec![
            platform.name().to_string(),
            cell.text(),
            group.to_string(),
            cell.percent_of(group),
        ];
        row.extend(weekly(Some(i)).iter().map(|c| c.text()));
        platform_rows.push(row);
    }

    // ---- per department: only groups of at least k, with complementary
    // suppression against the platform totals (small groups count as hidden).
    let reportable = reportable_departments(
        &facts.departments,
        |id| departments.get(&Some(id)).map_or(0, Group::size),
        k,
    );
    let mut groups: Vec<(Option<i64>, String, Group)> = facts
        .departments
        .iter()
        .map(|(id, name)| {
            let members = departments.get(&Some(*id)).copied().unwrap_or_default();
            (Some(*id), name.clone(), members)
        })
        .collect();
    if let Some(unassigned) = departments.get(&None).filter(|g| g.size() > 0) {
        groups.push((None, "No department".into(), *unassigned));
    }
    let shown_group = |(id, _, members): &(Option<i64>, String, Group)| {
        filters.department.is_none()
            && members.size() >= k as u64
            && id.is_none_or(|id| reportable.iter().any(|(r, _)| *r == id))
    };
    // A group's figure, or hidden when the group is not shown at all.
    let group_cells = |figure: Figure, counted: &dyn Fn(Option<i64>) -> People| -> Vec<Cell> {
        groups
            .iter()
            .map(|g| {
                if shown_group(g) {
                    rules.people(figure, &counted(g.0), &g.2)
                } else {
                    Cell::HIDDEN
                }
            })
            .collect()
    };
    let mut department_columns: Vec<String> = vec!["Department".into(), "Members".into()];
    department_columns.extend(
        platforms
            .iter()
            .map(|p| format!("Opted in to {}", p.name())),
    );
    department_columns.push("People who shared".into());
    let columns: Vec<Vec<Cell>> = platforms
        .iter()
        .map(|platform| {
            let cells = group_cells(Figure::new(Measure::OptedIn, &[*platform as i64]), &|d| {
                counts
                    .opted_department
                    .get(&(d, *platform))
                    .copied()
                    .unwrap_or_default()
            });
            let total = platform_totals.get(platform).copied().unwrap_or(false);
            complementary(&cells, total).0
        })
        .collect();
    let since = weeks.first().map_or(0, week_id);
    let sharer_cells = group_cells(
        Figure::new(Measure::PeriodSharers, &[since, chosen]),
        &|d| {
            counts
                .department_sharers
                .get(&d)
                .copied()
                .unwrap_or_default()
        },
    );
    let everyone_sharers = rules.people(
        Figure::new(Measure::PeriodSharers, &[since, ANY_PLATFORM]),
        &counts.population_sharers,
        &population,
    );
    let sharer_cells = complementary(&sharer_cells, everyone_sharers.is_shown()).0;
    let department_rows = groups
        .iter()
        .enumerate()
        .filter(|(_, g)| shown_group(g))
        .map(|(i, g)| {
            let mut row = vec![g.1.clone(), g.2.size().to_string()];
            row.extend(columns.iter().map(|c| c[i].text()));
            row.push(sharer_cells[i].text());
            row
        })
        .collect();

    // ---- trend over weeks, all selected platforms
    let totals = weekly(None);
    let sharers: Vec<Cell> = weeks
        .iter()
        .zip(&counts.week_people)
        .zip(&offered)
        .map(|((week, people), offered)| {
            if !offered {
                return rules.nothing_offered();
            }
            let figure = Figure::new(Measure::WeekSharers, &[week_id(week), chosen]);
            rules.people(figure, people, &population)
        })
        .collect();
    let (trend_table, chart) = trend_and_chart(weeks, &totals, &sharers);

    // ---- the headline: people opted in to any chosen platform (with one
    // platform chosen, the very figure of the platform table).
    let opted_in = match platforms.as_slice() {
        [platform] => rules.people(
            Figure::new(Measure::OptedIn, &[*platform as i64]),
            &counts
                .opted_population
                .get(platform)
                .copied()
                .unwrap_or_default(),
            &population,
        ),
        _ => rules.people(
            Figure::new(Measure::OptedInAny, &[chosen]),
            &counts.opted_any,
            &population,
        ),
    };
    let headline = Headline {
        opted_in,
        population: group,
        weekly_shares: totals.clone(),
        posts_published: facts.posts.len(),
    };

    Reports {
        headline,
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

/// Whether any post was in the queues of the population (everyone, or
/// one department) at some time in the week.
pub(crate) fn offered_in(facts: &Facts, week: &Week, department: Option<i64>) -> bool {
    facts.offered.iter().any(|post| {
        let live = post.published_at < week.end && post.ended_at.is_none_or(|e| e > week.start);
        let reaches = match (&post.departments, department) {
            (None, _) | (Some(_), None) => true,
            (Some(ds), Some(d)) => ds.contains(&d),
        };
        live && reaches
    })
}

mod counting;
#[cfg(test)]
mod reference;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(day: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + day * 86_400, 0)
            .unwrap()
            .naive_utc()
    }

    fn employee(id: i64, department: Option<i64>) -> Employee {
        Employee {
            id,
            department,
            record_key: RecordKey::new(id.wrapping_mul(0x2545_f491_4f6c_dd1d)),
        }
    }

    fn facts(employees: u64, sharers: u64) -> Facts {
        Facts {
            employees: (1..=employees as i64)
                .map(|u| employee(u, Some(if u % 2 == 0 { 10 } else { 20 })))
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
            offered: vec![PostFact {
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
        let rows = |reports: Reports| reports.posts_as_of(t(3), None).rows;
        let few = rows(build(&facts(20, 4), &filters, &weeks(), 5));
        assert_eq!(few[0][1], "suppressed");
        let enough = rows(build(&facts(20, 10), &filters, &weeks(), 5));
        let near = |cell: &str| cell.parse::<u64>().unwrap().abs_diff(10) <= 2;
        assert!(near(&enough[0][1]), "{enough:?}");
        assert!(near(&enough[0][2]), "{enough:?}");
        assert_eq!(enough[0][4], "3", "days live");
        let everyone = rows(build(&facts(8, 8), &filters, &weeks(), 5));
        assert_eq!(everyone[0][1], "suppressed", "8 of 8 reveals everyone");
    }

    fn arbitrary_facts() -> impl Strategy<Value = (Facts, Filters, u32)> {
        let platforms = [Platform::X, Platform::LinkedIn, Platform::Mastodon];
        let department = prop_oneof![Just(None), (1_i64..4).prop_map(Some)];
        (
            prop::collection::vec(department.clone(), 0..40),
            prop::collection::vec((0_i64..45, 0_usize..3), 0..80),
            prop::collection::vec(
                (
                    prop::option::of(prop::collection::vec(1_i64..5, 0..3)),
                    0_i64..10,
                    prop::option::of(0_i64..20),
                ),
                0..5,
            ),
            prop::collection::vec((0_i64..45, 1_i64..7, 0_usize..3, 0_i64..22), 0..200),
            prop::collection::vec((0_i64..45, 1_i64..7), 0..40),
            prop::sample::subsequence(platforms.to_vec(), 0..=3),
            prop_oneof![Just(None), (1_i64..5).prop_map(Some)],
            3_u32..6,
        )
            .prop_map(
                move |(employees, opted, posts, shares, dismissals, chosen, department, k)| {
                    let mut facts = Facts {
                        employees: employees
                            .into_iter()
                            .enumerate()
                            .map(|(u, d)| employee(u as i64, d))
                            .collect(),
                        departments: vec![(1, "A".into()), (2, "B".into()), (3, "C".into())],
                        opted_in: opted.into_iter().map(|(u, p)| (u, platforms[p])).collect(),
                        posts: posts
                            .into_iter()
                            .enumerate()
                            .map(|(i, (departments, start, ended))| PostFact {
                                id: i as i64 + 1,
                                title: format!("Post {i}"),
                                departments,
                                published_at: t(start),
                                ended_at: ended.map(t),
                            })
                            .collect(),
                        shares: shares
                            .into_iter()
                            .map(|(u, p, platform, day)| (u, p, platforms[platform], t(day)))
                            .collect(),
                        dismissals,
                        offered: vec![],
                    };
                    // Posts live in the period: those of the period and,
                    // sometimes, none at all (every week then reads 0).
                    if !facts.posts.len().is_multiple_of(4) {
                        facts.offered = facts.posts.clone();
                    }
                    let filters = Filters {
                        platforms: chosen,
                        department,
                    };
                    (facts, filters, k)
                },
            )
    }

    fn three_weeks() -> Vec<Week> {
        (0..3)
            .map(|w| Week {
                label: format!("W{w}"),
                start: t(w * 7),
                end: t(w * 7 + 7),
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn the_fast_builder_gives_the_tables_of_the_direct_definitions(
            (facts, filters, k) in arbitrary_facts()
        ) {
            let weeks = three_weeks();
            let fast = build(&facts, &filters, &weeks, k);
            let direct = reference::build_reference(&facts, &filters, &weeks, k);
            prop_assert_eq!(&fast.posts, &direct.posts);
            prop_assert_eq!(&fast.platforms, &direct.platforms);
            prop_assert_eq!(&fast.departments, &direct.departments);
            prop_assert_eq!(&fast.trend, &direct.trend);
            prop_assert_eq!(&fast.reportable_departments, &direct.reportable_departments);
            let bars = |r: &Reports| r.chart.iter().map(|b| (b.label.clone(), b.value)).collect::<Vec<_>>();
            prop_assert_eq!(bars(&fast), bars(&direct));
        }

        #[test]
        fn people_streamed_in_ranges_give_the_tables_of_people_held_at_once(
            (facts, filters, k) in arbitrary_facts(),
            range in 1_usize..9,
        ) {
            let weeks = three_weeks();
            let held = build(&facts, &filters, &weeks, k);
            let streamed = build_in_ranges(&facts, &filters, &weeks, k, range);
            prop_assert_eq!(&streamed.posts, &held.posts);
            prop_assert_eq!(&streamed.platforms, &held.platforms);
            prop_assert_eq!(&streamed.departments, &held.departments);
            prop_assert_eq!(&streamed.trend, &held.trend);
            prop_assert_eq!(&streamed.reportable_departments, &held.reportable_departments);
            prop_assert_eq!(streamed.headline.opted_in, held.headline.opted_in);
            prop_assert_eq!(streamed.headline.population, held.headline.population);
        }
    }

    /// The facts fed to a tally as the server streams them: employees in
    /// ranges of `range` people by id, each range with its consents, then
    /// its people's shares and dismissals, a person at a time.
    fn build_in_ranges(
        facts: &Facts,
        filters: &Filters,
        weeks: &[Week],
        k: u32,
        range: usize,
    ) -> Reports {
        let mut tally = Tally::new(facts, filters, weeks);
        let mut employees = facts.employees.clone();
        employees.sort_by_key(|e| e.id);
        let mut after = i64::MIN;
        for people in employees.chunks(range) {
            let last = people[people.len() - 1].id;
            let within = |user: i64| user > after && user <= last;
            let opted: Vec<(i64, Platform)> = facts
                .opted_in
                .iter()
                .filter(|(u, _)| within(*u))
                .copied()
                .collect();
            tally.people(people, &opted);
            let mut shares: Vec<_> = facts.shares.iter().filter(|s| within(s.0)).collect();
            shares.sort_by_key(|s| s.0);
            for person in shares.chunk_by(|a, b| a.0 == b.0) {
                let theirs: Vec<PersonShare> = person
                    .iter()
                    .map(|(_, p, platform, at)| (*p, *platform, *at))
                    .collect();
                tally.shares_of(person[0].0, &theirs);
            }
            let mut dismissals: Vec<(i64, i64)> = facts
                .dismissals
                .iter()
                .filter(|d| within(d.0))
                .copied()
                .collect();
            dismissals.sort_unstable();
            for person in dismissals.chunk_by(|a, b| a.0 == b.0) {
                let posts: Vec<i64> = person.iter().map(|(_, post)| *post).collect();
                tally.dismissals_of(person[0].0, &posts);
            }
            after = last;
        }
        tally.reports(k)
    }

    #[test]
    fn a_week_with_nothing_offered_reads_0_and_a_small_week_stays_hidden() {
        let filters = Filters {
            platforms: vec![Platform::X],
            department: None,
        };
        let mut quiet = facts(20, 4);
        quiet.posts[0].published_at = t(8);
        quiet.offered[0].published_at = t(8);
        let weeks = vec![
            Week {
                label: "W1".into(),
                start: t(0),
                end: t(7),
            },
            Week {
                label: "W2".into(),
                start: t(7),
                end: t(14),
            },
        ];
        quiet.shares = (1..=4).map(|u| (u, 1, Platform::X, t(9))).collect();
        let reports = build(&quiet, &filters, &weeks, 5);
        assert_eq!(
            reports.trend.rows[0][1..],
            ["0", "0"],
            "no post in the queues"
        );
        assert_eq!(reports.chart[0].value, Some(0));
        assert_eq!(
            reports.trend.rows[1][1..],
            ["suppressed", "suppressed"],
            "4 sharers with k = 5"
        );
        assert_eq!(reports.chart[1].value, None);
        assert_eq!(reports.platforms.rows[0][4], "0", "the week's column too");
        let trend = reports.headline.share_trend();
        assert_eq!((trend.weeks, trend.recent, trend.earlier), (1, 0, 0));
        assert!(!trend.complete && !trend.any_recent);
    }

    #[test]
    fn the_headline_counts_people_opted_in_to_any_chosen_platform_once() {
        let mut both = facts(20, 10);
        both.opted_in
            .extend((1..=10).map(|u| (u, Platform::LinkedIn)));
        let all = Filters {
            platforms: vec![Platform::X, Platform::LinkedIn],
            department: None,
        };
        let reports = build(&both, &all, &weeks(), 5);
        let shown = reports
            .headline
            .opted_in
            .value()
            .expect("10 of 20 is shown");
        assert!(shown.abs_diff(10) <= 6, "ten people, not twenty: {shown}");
        assert_eq!(reports.headline.population, 20);
        assert_eq!(reports.headline.posts_published, 1);
        let x_only = Filters {
            platforms: vec![Platform::X],
            department: None,
        };
        let x = build(&both, &x_only, &weeks(), 5);
        assert_eq!(
            x.headline.opted_in.text(),
            x.platforms.rows[0][1],
            "one platform: the very figure of its row"
        );
    }

    #[test]
    fn a_kept_report_counts_days_live_to_the_day_it_is_shown() {
        let filters = Filters {
            platforms: vec![Platform::X],
            department: None,
        };
        let reports = build(&facts(20, 10), &filters, &weeks(), 5);
        let then = reports.posts_as_of(t(3), None);
        assert_eq!(then.rows[0][4], "3", "when built");
        let later = reports.posts_as_of(t(5), None);
        assert_eq!(later.rows[0][4], "5", "two days on");
        assert_eq!(later.rows[0][..4], then.rows[0][..4], "counts unchanged");
        assert_eq!(reports.posts_as_of(t(5), Some(0)).rows.len(), 0);
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
        let reports = build(&facts(12, 10), &filters, &weeks(), 5);
        assert_eq!(reports.departments.rows.len(), 2, "6 and 6 members");
        let small = build(&facts(8, 6), &filters, &weeks(), 5);
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
