//! The attack suite: an admin who may read every view, change the
//! organisation and knows their own and their accomplices' choices tries
//! to learn one person's yes/no opt-in from the published reports. Each
//! attack runs on 200 seeded organisations; the attacker makes the best
//! guess the published figures allow (Bayes, knowing the method and its
//! shift probabilities, not the record keys). No attack may be certain,
//! none may come near certainty (odds of 99 to 1), and none may be right
//! more than 75% of the time.
//!
//! The end-to-end half (the same figures through pages, CSV and the API,
//! on SQLite and PostgreSQL) is in tests/api/reports.rs.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Employee, Facts, Filters, PostFact, Reports, Week, build};
use crate::domain::disclosure_control::{RecordKey, shift_probability};
use crate::domain::platforms::Platform;

const K: u32 = 5;
const ORGANISATIONS: u64 = 200;
const PLATFORMS: [Platform; 3] = [Platform::LinkedIn, Platform::X, Platform::Mastodon];

fn t(day: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(1_800_000_000 + day * 86_400, 0)
        .unwrap()
        .naive_utc()
}

/// Weeks ending with the current one, as the reports page makes them.
fn weeks(count: i64) -> Vec<Week> {
    (0..count)
        .rev()
        .map(|back| Week {
            label: format!("W{back}"),
            start: t(70 - 7 * back),
            end: t(77 - 7 * back),
        })
        .collect()
}

/// A seeded organisation: departments (id, size), a share of people opted
/// in per department and platform, and record keys no attacker knows.
struct Organisation {
    facts: Facts,
    rng: StdRng,
    next_id: i64,
}

impl Organisation {
    fn new(seed: u64, sizes: &[(i64, usize)]) -> Organisation {
        let mut org = Organisation {
            facts: Facts {
                employees: vec![],
                departments: sizes
                    .iter()
                    .filter(|(id, _)| *id > 0)
                    .map(|(id, _)| (*id, format!("Department {id}")))
                    .collect(),
                opted_in: vec![],
                posts: vec![],
                shares: vec![],
                dismissals: vec![],
            },
            rng: StdRng::seed_from_u64(seed),
            next_id: 1,
        };
        for (department, size) in sizes {
            let rates: Vec<f64> = PLATFORMS
                .iter()
                .map(|_| org.rng.random_range(0.2..0.8))
                .collect();
            for _ in 0..*size {
                let choices: Vec<bool> = rates.iter().map(|r| org.rng.random_bool(*r)).collect();
                org.add((*department > 0).then_some(*department), &choices);
            }
        }
        org
    }

    /// Adds a person with their choices per platform; returns their id.
    fn add(&mut self, department: Option<i64>, choices: &[bool]) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.facts.employees.push(Employee {
            id,
            department,
            record_key: RecordKey::new(self.rng.random()),
        });
        for (platform, chosen) in PLATFORMS.iter().zip(choices) {
            if *chosen {
                self.facts.opted_in.push((id, *platform));
            }
        }
        id
    }

    fn random_choices(&mut self) -> Vec<bool> {
        PLATFORMS
            .iter()
            .map(|_| self.rng.random_bool(0.5))
            .collect()
    }

    fn move_to(&mut self, person: i64, department: Option<i64>) {
        for e in &mut self.facts.employees {
            if e.id == person {
                e.department = department;
            }
        }
    }

    fn set_choice(&mut self, person: i64, platform: Platform, yes: bool) {
        self.facts
            .opted_in
            .retain(|(u, p)| !(*u == person && *p == platform));
        if yes {
            self.facts.opted_in.push((person, platform));
        }
    }

    fn read(&self) -> Reports {
        let filters = Filters {
            platforms: PLATFORMS.to_vec(),
            department: None,
        };
        build(&self.facts, &filters, &weeks(12), K, t(75))
    }
}

/// A department's published opt-in count on the i-th platform.
fn department_cell(reports: &Reports, department: &str, i: usize) -> Option<i64> {
    reports
        .departments
        .rows
        .iter()
        .find(|row| row[0] == department)
        .and_then(|row| row[2 + i].parse().ok())
}

/// The organisation's published opt-in count on the i-th platform.
fn everyone_cell(reports: &Reports, i: usize) -> Option<i64> {
    reports.platforms.rows[i][1].parse().ok()
}

/// One observation: a published difference equal to `v_times` × the
/// target's choice plus a sum of `shifts` independent shifts (and a known
/// offset already taken off).
struct Evidence {
    value: i64,
    v_times: i64,
    shifts: usize,
}

/// What one attack concluded about one choice.
#[derive(Debug, Default)]
struct Tally {
    guesses: u32,
    right: f64,
    certain: u32,
    /// The attacker's highest confidence in any one guess.
    surest: f64,
}

impl Tally {
    /// The attacker's best guess from independent pieces of evidence.
    fn judge(&mut self, truth: bool, evidence: &[Evidence]) {
        if evidence.is_empty() {
            return;
        }
        let likelihood = |v: i64| -> f64 {
            evidence
                .iter()
                .map(|e| {
                    shift_sum(e.shifts)
                        .get(&(e.value - e.v_times * v))
                        .copied()
                        .unwrap_or(0.0)
                })
                .product()
        };
        let (no, yes) = (likelihood(0), likelihood(1));
        self.guesses += 1;
        if (no == 0.0) != (yes == 0.0) {
            self.certain += 1;
        }
        self.surest = self.surest.max(no.max(yes) / (no + yes));
        self.right += if yes == no {
            0.5
        } else if (yes > no) == truth {
            1.0
        } else {
            0.0
        };
    }

    fn accuracy(&self) -> f64 {
        self.right / self.guesses.max(1) as f64
    }

    fn check(&self, attack: &str, at_most: f64) {
        eprintln!(
            "{attack}: {} guesses, right {:.1}%, certain {}, surest {:.1}%",
            self.guesses,
            100.0 * self.accuracy(),
            self.certain,
            100.0 * self.surest
        );
        assert!(
            self.guesses >= 150,
            "{attack}: too few feasible guesses: {self:?}"
        );
        assert_eq!(self.certain, 0, "{attack}: an attack was certain: {self:?}");
        assert!(self.surest < 0.99, "{attack}: near certainty: {self:?}");
        assert!(
            self.accuracy() <= at_most,
            "{attack}: right {:.1}% > {:.0}%",
            100.0 * self.accuracy(),
            100.0 * at_most
        );
    }
}

/// The distribution of a sum of `n` independent shifts (worked out once).
fn shift_sum(n: usize) -> &'static HashMap<i64, f64> {
    static SUMS: std::sync::OnceLock<Vec<HashMap<i64, f64>>> = std::sync::OnceLock::new();
    &SUMS.get_or_init(|| (0..8).map(sum_of_shifts).collect())[n]
}

fn sum_of_shifts(n: usize) -> HashMap<i64, f64> {
    let mut sum = HashMap::from([(0_i64, 1.0)]);
    for _ in 0..n {
        let mut next = HashMap::new();
        for (total, p) in &sum {
            for shift in -40..=40 {
                *next.entry(total + shift).or_insert(0.0) += p * shift_probability(shift);
            }
        }
        sum = next;
    }
    sum
}

fn difference(after: Option<i64>, before: Option<i64>) -> Option<i64> {
    Some(after? - before?)
}

/// A department's opt-in count on the i-th platform, read through the
/// department filter (where complementary suppression of the department
/// table does not reach).
fn filtered_cell(org: &Organisation, department: i64, i: usize) -> Option<i64> {
    let filters = Filters {
        platforms: PLATFORMS.to_vec(),
        department: Some(department),
    };
    let reports = build(&org.facts, &filters, &weeks(12), K, t(75));
    reports.platforms.rows[i][1].parse().ok()
}

#[test]
fn the_complement_of_the_reportable_departments_does_not_single_out_the_person_left() {
    // Everyone minus every department (each read through its own filter)
    // = the one person without a department, plus the shifts of every
    // figure used.
    let mut tally = Tally::default();
    for seed in 0..ORGANISATIONS {
        let sizes = [(1, 20), (2, 25), (3, 16), (4, 30)];
        let mut org = Organisation::new(seed, &sizes);
        let choices = org.random_choices();
        org.add(None, &choices);
        let reports = org.read();
        for (i, truth) in choices.iter().enumerate() {
            let departments: Option<i64> = sizes
                .iter()
                .map(|(id, _)| filtered_cell(&org, *id, i))
                .sum();
            if let (Some(all), Some(departments)) = (everyone_cell(&reports, i), departments) {
                let evidence = Evidence {
                    value: all - departments,
                    v_times: 1,
                    shifts: 1 + sizes.len(),
                };
                tally.judge(*truth, &[evidence]);
            }
        }
    }
    tally.check("complement of the reportable departments", 0.75);
}

#[test]
fn two_hidden_groups_worked_out_from_the_total_do_not_single_out_their_member() {
    // Two departments too small to show (2 and 2 people): their sum is the
    // total minus the rest; the attacker knows the three other members.
    let mut tally = Tally::default();
    for seed in 0..ORGANISATIONS {
        let sizes = [(1, 22), (2, 30), (3, 18)];
        let mut org = Organisation::new(1000 + seed, &sizes);
        org.facts.departments.push((8, "Small 8".into()));
        org.facts.departments.push((9, "Small 9".into()));
        let choices = org.random_choices();
        org.add(Some(8), &choices);
        let accomplices: Vec<Vec<bool>> = (0..3).map(|_| org.random_choices()).collect();
        for (n, known) in accomplices.iter().enumerate() {
            org.add(Some(if n == 0 { 8 } else { 9 }), known);
        }
        let reports = org.read();
        for (i, truth) in choices.iter().enumerate() {
            let shown: Option<i64> = sizes
                .iter()
                .map(|(id, _)| department_cell(&reports, &format!("Department {id}"), i))
                .sum();
            let known = accomplices.iter().filter(|c| c[i]).count() as i64;
            if let (Some(all), Some(shown)) = (everyone_cell(&reports, i), shown) {
                let evidence = Evidence {
                    value: all - shown - known,
                    v_times: 1,
                    shifts: 1 + sizes.len(),
                };
                tally.judge(*truth, &[evidence]);
            }
        }
    }
    tally.check("two hidden groups", 0.75);
}

#[test]
fn moving_one_person_between_two_reported_departments_reveals_at_most_a_weak_hint() {
    // The tightest attack: both departments read before and after the move.
    let mut tally = Tally::default();
    for seed in 0..ORGANISATIONS {
        let mut org = Organisation::new(2000 + seed, &[(1, 24), (2, 30), (3, 16)]);
        let choices = org.random_choices();
        let target = org.add(Some(1), &choices);
        let before = org.read();
        org.move_to(target, Some(2));
        let after = org.read();
        for (i, truth) in choices.iter().enumerate() {
            let a = difference(
                department_cell(&before, "Department 1", i),
                department_cell(&after, "Department 1", i),
            );
            let b = difference(
                department_cell(&after, "Department 2", i),
                department_cell(&before, "Department 2", i),
            );
            let evidence: Vec<Evidence> = [a, b]
                .into_iter()
                .flatten()
                .map(|value| Evidence {
                    value,
                    v_times: 1,
                    shifts: 2,
                })
                .collect();
            tally.judge(*truth, &evidence);
        }
        // Moving back gives back the very first answers: nothing new to average.
        org.move_to(target, Some(1));
        assert_eq!(org.read().departments, before.departments);
    }
    tally.check("one person moved between two reported departments", 0.72);
}

#[test]
fn moving_one_person_out_of_a_department_and_back_reveals_at_most_a_weak_hint() {
    let mut tally = Tally::default();
    for seed in 0..ORGANISATIONS {
        let mut org = Organisation::new(3000 + seed, &[(1, 26), (2, 19)]);
        org.facts.departments.push((7, "New".into()));
        let choices = org.random_choices();
        let target = org.add(Some(1), &choices);
        let before = org.read();
        org.move_to(target, Some(7));
        let away = org.read();
        org.move_to(target, Some(1));
        assert_eq!(org.read().departments, before.departments, "back as it was");
        for (i, truth) in choices.iter().enumerate() {
            if let Some(value) = difference(
                department_cell(&before, "Department 1", i),
                department_cell(&away, "Department 1", i),
            ) {
                let evidence = Evidence {
                    value,
                    v_times: 1,
                    shifts: 2,
                };
                tally.judge(*truth, &[evidence]);
            }
        }
    }
    tally.check("one person moved out of a department and back", 0.75);
}

#[test]
fn an_admin_who_is_also_an_employee_gains_little_from_their_own_choices_and_a_move() {
    // The admin sits in the target's department, reads it with their own
    // choice both ways, moves the target to another department, and reads
    // both departments again with their own choice both ways.
    let mut tally = Tally::default();
    for seed in 0..ORGANISATIONS {
        let mut org = Organisation::new(4000 + seed, &[(1, 24), (2, 28)]);
        let choices = org.random_choices();
        let target = org.add(Some(1), &choices);
        let admin = org.add(Some(1), &[false, false, false]);
        let read_both_ways = |org: &mut Organisation| -> Vec<Reports> {
            [false, true]
                .iter()
                .map(|own| {
                    for platform in PLATFORMS {
                        org.set_choice(admin, platform, *own);
                    }
                    org.read()
                })
                .collect()
        };
        let before = read_both_ways(&mut org);
        org.move_to(target, Some(2));
        let after = read_both_ways(&mut org);
        for (i, truth) in choices.iter().enumerate() {
            let mut evidence = Vec::new();
            for own in 0..2 {
                // Department 1 with the admin's own choice the same way
                // before and after: their own part cancels out.
                if let Some(value) = difference(
                    department_cell(&before[own], "Department 1", i),
                    department_cell(&after[own], "Department 1", i),
                ) {
                    evidence.push(Evidence {
                        value,
                        v_times: 1,
                        shifts: 2,
                    });
                }
            }
            // Department 2 does not hold the admin: one pair of reads.
            if let Some(value) = difference(
                department_cell(&after[0], "Department 2", i),
                department_cell(&before[0], "Department 2", i),
            ) {
                evidence.push(Evidence {
                    value,
                    v_times: 1,
                    shifts: 2,
                });
            }
            tally.judge(*truth, &evidence);
        }
    }
    tally.check("an admin who is also an employee", 0.75);
}

#[test]
fn other_periods_and_platform_filters_repeat_the_same_answers_instead_of_new_samples() {
    // Differencing periods (12 weeks minus 4) or platform filters gives new
    // samples only if the same figure is answered differently. It never is:
    // a week's shares, a post's figures and an opt-in count are the same
    // figure in every view that shows them.
    for seed in 0..ORGANISATIONS {
        let mut org = Organisation::new(5000 + seed, &[(1, 30), (2, 25)]);
        for post in 1..=4 {
            org.facts.posts.push(PostFact {
                id: post,
                title: format!("Post {post}"),
                departments: None,
                published_at: t(70 - 14 * post),
                ended_at: None,
            });
        }
        let people: Vec<i64> = org.facts.employees.iter().map(|e| e.id).collect();
        for person in people {
            for post in 1..=4 {
                for platform in PLATFORMS {
                    if org.rng.random_bool(0.3) {
                        let day = org.rng.random_range(70 - 14 * post..77);
                        org.facts.shares.push((person, post, platform, t(day)));
                    }
                }
            }
        }
        let view = |periods: i64, platforms: Vec<Platform>, department: Option<i64>| {
            let filters = Filters {
                platforms,
                department,
            };
            build(&org.facts, &filters, &weeks(periods), K, t(75))
        };
        let four = view(4, PLATFORMS.to_vec(), None);
        let twelve = view(12, PLATFORMS.to_vec(), None);
        let by_title = |r: &Reports| -> HashMap<String, Vec<String>> {
            r.posts
                .rows
                .iter()
                .map(|row| (row[0].clone(), row[1..row.len() - 1].to_vec()))
                .collect()
        };
        let (posts_4, posts_12) = (by_title(&four), by_title(&twelve));
        for (title, cells) in &posts_4 {
            assert_eq!(Some(cells), posts_12.get(title), "{title} in both periods");
        }
        for (week_4, week_12) in four.trend.rows.iter().zip(&twelve.trend.rows[8..]) {
            assert_eq!(week_4, week_12, "the same week in both periods");
        }
        for (i, platform) in PLATFORMS.iter().enumerate() {
            let alone = view(12, vec![*platform], None);
            assert_eq!(alone.platforms.rows[0], twelve.platforms.rows[i]);
            assert_eq!(alone.trend.rows.len(), 12);
            for (w, row) in alone.trend.rows.iter().enumerate() {
                assert_eq!(row[1], twelve.platforms.rows[i][4 + w], "week {w}");
            }
            for department in [1, 2] {
                let filtered = view(4, PLATFORMS.to_vec(), Some(department));
                let row = twelve
                    .departments
                    .rows
                    .iter()
                    .find(|r| r[0] == format!("Department {department}"))
                    .unwrap();
                // Complementary suppression may hide it in the table only.
                if row[2 + i] != "suppressed" {
                    assert_eq!(filtered.platforms.rows[i][1], row[2 + i]);
                }
            }
        }
    }
}
