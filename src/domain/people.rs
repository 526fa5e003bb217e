//! A person as an admin describes them (email, name, department, roles),
//! parsed whole or refused with a problem per field, and the roster of a
//! CSV import, parsed row by row.

use std::collections::HashMap;

use super::email::EmailAddress;
use super::names::{DepartmentName, PersonName};
use super::password_policy::{self, PasswordContext};
use super::roles::{Role, Roles};

/// What an admin may change of a person: everything but the email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonDetails {
    pub name: PersonName,
    pub department: Option<DepartmentName>,
    pub roles: Roles,
}

/// Why a person's details were refused, field by field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PersonProblems {
    pub email: Option<String>,
    pub name: Option<String>,
    pub department: Option<String>,
    pub roles: Option<String>,
}

impl PersonProblems {
    pub fn any(&self) -> bool {
        self.email.is_some()
            || self.name.is_some()
            || self.department.is_some()
            || self.roles.is_some()
    }
}

impl PersonDetails {
    /// The details as typed; at least one role is needed.
    pub fn parse(
        name: &str,
        department: &str,
        roles: Roles,
    ) -> Result<PersonDetails, PersonProblems> {
        let mut problems = PersonProblems::default();
        let name = PersonName::parse(name)
            .map_err(|e| problems.name = Some(e.0))
            .ok();
        let department = DepartmentName::parse_optional(department)
            .map_err(|e| problems.department = Some(e.0))
            .ok();
        if roles.is_empty() {
            problems.roles = Some("Choose at least one role.".into());
        }
        match (name, department) {
            (Some(name), Some(department)) if !problems.any() => Ok(PersonDetails {
                name,
                department,
                roles,
            }),
            _ => Err(problems),
        }
    }
}

/// Someone to invite: an email address and their details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitee {
    pub email: EmailAddress,
    pub details: PersonDetails,
}

impl Invitee {
    /// The person as typed, every field checked (so each problem shows).
    pub fn parse(
        email: &str,
        name: &str,
        department: &str,
        roles: Roles,
    ) -> Result<Invitee, PersonProblems> {
        let email = EmailAddress::parse(email).map_err(|e| e.0);
        match (email, PersonDetails::parse(name, department, roles)) {
            (Ok(email), Ok(details)) => Ok(Invitee { email, details }),
            (email, details) => Err(PersonProblems {
                email: email.err(),
                ..details.err().unwrap_or_default()
            }),
        }
    }
}

/// The organisation and its first admin, as typed at first-run setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstRun {
    pub org_name: PersonName,
    pub name: PersonName,
    pub email: EmailAddress,
    /// Held to the password policy (`password_policy::check`).
    pub password: String,
}

/// Why the setup form was refused, field by field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SetupProblems {
    pub org_name: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
}

impl SetupProblems {
    pub fn any(&self) -> bool {
        self.org_name.is_some()
            || self.name.is_some()
            || self.email.is_some()
            || self.password.is_some()
    }
}

impl FirstRun {
    /// Every field checked, so each problem shows; the password may not
    /// be made of the names typed beside it.
    pub fn parse(
        org_name: &str,
        name: &str,
        email: &str,
        password: String,
    ) -> Result<FirstRun, SetupProblems> {
        let context = PasswordContext {
            email: email.trim(),
            name: name.trim(),
            org_name: org_name.trim(),
        };
        let checked = password_policy::check(&password, &context).map_err(|e| e.0);
        let org_name = PersonName::parse(org_name)
            .map_err(|_| "Enter your organisation's name (at most 100 characters).".to_string());
        let name = PersonName::parse(name).map_err(|e| e.0);
        let email = EmailAddress::parse(email).map_err(|e| e.0);
        match (org_name, name, email, checked) {
            (Ok(org_name), Ok(name), Ok(email), Ok(())) => Ok(FirstRun {
                org_name,
                name,
                email,
                password,
            }),
            (org_name, name, email, checked) => Err(SetupProblems {
                org_name: org_name.err(),
                name: name.err(),
                email: email.err(),
                password: checked.err(),
            }),
        }
    }
}

/// The most rows one roster takes.
pub const ROSTER_MAX_ROWS: usize = 10_000;

/// One row of a roster, as typed and as parsed.
#[derive(Debug)]
pub struct RosterRow {
    /// The line of the file it stands on.
    pub line: u64,
    pub email: String,
    pub name: String,
    /// The person, or why the row is refused.
    pub parsed: Result<Invitee, String>,
}

/// Why a roster was refused whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RosterRefused {
    /// More than [`ROSTER_MAX_ROWS`] people.
    TooManyRows,
    /// Not UTF-8, not CSV, no header or no people: what to mend.
    Unreadable(String),
}

impl RosterRefused {
    pub fn message(&self) -> String {
        match self {
            RosterRefused::TooManyRows => format!(
                "The file has more than {ROSTER_MAX_ROWS} people. Split it into smaller files."
            ),
            RosterRefused::Unreadable(message) => message.clone(),
        }
    }
}

/// Where the roster's columns are.
struct Columns {
    email: usize,
    name: usize,
    department: Option<usize>,
    role: Option<usize>,
}

impl Columns {
    fn find(headers: &csv::StringRecord) -> Result<Columns, RosterRefused> {
        let headers: Vec<String> = headers.iter().map(|h| h.to_ascii_lowercase()).collect();
        let column = |name: &str| headers.iter().position(|h| h == name);
        let (Some(email), Some(name)) = (column("email"), column("name")) else {
            return Err(RosterRefused::Unreadable(
                "The first line must name the columns: email,name,department,role \
                 (department and role may be left out)."
                    .into(),
            ));
        };
        Ok(Columns {
            email,
            name,
            department: column("department"),
            role: column("role").or_else(|| column("roles")),
        })
    }
}

/// Parses a CSV file of people (`email,name,department,role`, with a
/// header line; department and role may be left out, role defaults to
/// employee). Each row is accepted or refused with a reason, a repeated
/// email included; a file that cannot be read is refused whole.
pub fn parse_roster(bytes: &[u8]) -> Result<Vec<RosterRow>, RosterRefused> {
    let unreadable = |message: String| RosterRefused::Unreadable(message);
    let text = std::str::from_utf8(bytes).map_err(|_| {
        unreadable("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.".into())
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| unreadable(format!("The header line could not be read: {e}")))?;
    let columns = Columns::find(headers)?;
    let mut rows = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| unreadable(format!("The file is not valid CSV: {e}")))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        if rows.len() >= ROSTER_MAX_ROWS {
            return Err(RosterRefused::TooManyRows);
        }
        rows.push(parse_row(&record, &columns, &mut seen));
    }
    if rows.is_empty() {
        return Err(unreadable(
            "The file has a header line but no people.".into(),
        ));
    }
    Ok(rows)
}

/// One row; `seen` holds the emails of the rows before it, with their line.
fn parse_row(
    record: &csv::StringRecord,
    columns: &Columns,
    seen: &mut HashMap<String, u64>,
) -> RosterRow {
    let line = record.position().map(|p| p.line()).unwrap_or(0);
    let field = |col: Option<usize>| col.and_then(|c| record.get(c)).unwrap_or("").to_string();
    let email_text = field(Some(columns.email));
    let name_text = field(Some(columns.name));
    let parsed = (|| {
        let email = EmailAddress::parse(&email_text).map_err(|e| e.0)?;
        if let Some(first) = seen.get(email.as_str()) {
            return Err(format!("The same email address is on line {first}."));
        }
        seen.insert(email.to_string(), line);
        let name = PersonName::parse(&name_text).map_err(|e| e.0)?;
        let department =
            DepartmentName::parse_optional(&field(columns.department)).map_err(|e| e.0)?;
        let role_text = field(columns.role);
        let roles = if role_text.is_empty() {
            Roles::only(Role::Employee)
        } else {
            Roles::parse_list(&role_text).map_err(|e| e.0)?
        };
        Ok(Invitee {
            email,
            details: PersonDetails {
                name,
                department,
                roles,
            },
        })
    })();
    RosterRow {
        line,
        email: email_text,
        name: name_text,
        parsed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_validated_one_by_one_with_reasons() {
        let file = "Email,Name,Department,Role\n\
            ada@example.com,Ada Lovelace,Research,employee\n\
            not-an-email,Bob,,employee\n\
            ada@example.com,Ada Again,,\n\
            cy@example.com,,Sales,\n\
            dee@example.com,Dee,Sales,manager\n\
            eve@example.com,Eve,,comms;employee\n";
        let rows = parse_roster(file.as_bytes()).unwrap();
        assert_eq!(rows.len(), 6);
        assert!(rows[0].parsed.is_ok());
        assert!(rows[1].parsed.as_ref().err().unwrap().contains("email"));
        assert!(rows[2].parsed.as_ref().err().unwrap().contains("line 2"));
        assert!(rows[3].parsed.as_ref().err().unwrap().contains("name"));
        assert!(rows[4].parsed.as_ref().err().unwrap().contains("manager"));
        let eve = &rows[5].parsed.as_ref().unwrap().details;
        assert!(eve.roles.comms && eve.roles.employee);
        assert_eq!(rows[1].line, 3);
    }

    #[test]
    fn a_file_without_the_header_or_people_is_refused_whole() {
        let refused = |bytes: &[u8]| parse_roster(bytes).unwrap_err().message();
        assert!(refused(b"ada@example.com,Ada\n").contains("first line"));
        assert!(refused(b"email,name\n").contains("no people"));
        assert!(refused(&[0xff, 0xfe, 0x00]).contains("UTF-8"));
    }

    #[test]
    fn a_person_is_refused_with_a_problem_for_each_field() {
        let problems = Invitee::parse("nope", " ", "", Roles::default()).unwrap_err();
        assert!(problems.email.is_some() && problems.name.is_some());
        assert!(problems.roles.is_some() && problems.department.is_none());
        let ada = Invitee::parse("Ada@Example.com", " Ada  L ", "", Roles::only(Role::Comms));
        let ada = ada.unwrap();
        assert_eq!(ada.details.name.as_str(), "Ada L");
        assert_eq!(ada.details.department, None);
    }

    #[test]
    fn a_first_admin_is_refused_with_a_problem_for_each_field() {
        let problems = FirstRun::parse("", "Ada", "ada@", "short".into()).unwrap_err();
        assert!(problems.org_name.unwrap().contains("organisation"));
        assert!(problems.email.is_some() && problems.password.is_some());
        assert!(problems.name.is_none());
        let typed = FirstRun::parse(
            " Acme ",
            "Ada",
            "ada@example.com",
            "quilt lantern orbit seventy".into(),
        );
        assert_eq!(typed.unwrap().org_name.as_str(), "Acme");
    }
}
