//! Admin → People: list, add, edit, deactivate and reactivate people, issue
//! set-password links, and invite many at once from a CSV file. Nothing here
//! shows anyone's participation, nor a way into an account someone uses: a
//! set-password link is shown only for an invitation never used.

use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::domain::email::EmailAddress;
use crate::domain::names::{DepartmentName, PersonName};
use crate::domain::roles::{Role, Roles};
use crate::store::accounts::{self, AdminPasswordLink, InviteOutcome};
use crate::store::audit::Actor;
use crate::store::users::{ChangeOutcome, NewUser, ProfileChange, User};
use crate::store::{self, departments, users};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, ok, refused, render, see_other};

const PAGE_SIZE: i64 = 50;
/// The most rows one CSV import takes.
pub const IMPORT_MAX_ROWS: usize = 10_000;
/// The largest CSV import, whatever carries the CSRF token.
pub const IMPORT_MAX_BYTES: usize = crate::web::auth::session::MULTIPART_LIMIT;

fn mail_context<'a>(base_url: &'a str, domain: &'a str) -> accounts::MailContext<'a> {
    accounts::MailContext {
        base_url,
        mail_domain: domain,
    }
}

fn link_for(state: &AppState, token: &str) -> String {
    format!("{}/invite/{}", state.base_url, token)
}

// ---- list ------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    page: i64,
}

#[derive(Template)]
#[template(path = "admin/people/index.html")]
struct PeoplePage {
    page: PageContext,
    people: Vec<User>,
    q: String,
    total: i64,
    page_number: i64,
    pages: i64,
}

pub async fn index(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<ListQuery>,
) -> WebResult<HttpResponse> {
    let query = query.into_inner();
    let page_number = query.page.clamp(1, crate::web::queue::MAX_PAGE);
    let search = query.q.clone();
    let (people, total) = state
        .db
        .run(move |conn| users::list(conn, &search, (page_number - 1) * PAGE_SIZE, PAGE_SIZE))
        .await?;
    ok(&PeoplePage {
        page: PageContext::from(&signed_in),
        people,
        q: query.q,
        total,
        page_number,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
    })
}

// ---- add one person --------------------------------------------------------

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct PersonForm {
    email: String,
    name: String,
    department: String,
    role_employee: Option<String>,
    role_comms: Option<String>,
    role_admin: Option<String>,
}

impl PersonForm {
    fn roles(&self) -> Roles {
        Roles {
            employee: self.role_employee.is_some(),
            comms: self.role_comms.is_some(),
            admin: self.role_admin.is_some(),
        }
    }

    fn from_user(user: &User) -> PersonForm {
        let flag = |on: bool| on.then(|| "on".to_string());
        PersonForm {
            email: user.email.clone(),
            name: user.name.clone(),
            department: user.department.clone().unwrap_or_default(),
            role_employee: flag(user.roles.employee),
            role_comms: flag(user.roles.comms),
            role_admin: flag(user.roles.admin),
        }
    }
}

#[derive(Default)]
struct PersonErrors {
    email: Option<String>,
    name: Option<String>,
    department: Option<String>,
    roles: Option<String>,
}

impl PersonErrors {
    fn any(&self) -> bool {
        self.email.is_some()
            || self.name.is_some()
            || self.department.is_some()
            || self.roles.is_some()
    }
}

struct ValidPerson {
    name: PersonName,
    department: Option<DepartmentName>,
    roles: Roles,
}

fn validate_person(form: &PersonForm, errors: &mut PersonErrors) -> Option<ValidPerson> {
    let name = PersonName::parse(&form.name)
        .map_err(|e| errors.name = Some(e.0))
        .ok();
    let department = DepartmentName::parse_optional(&form.department)
        .map_err(|e| errors.department = Some(e.0))
        .ok();
    let roles = form.roles();
    if roles.is_empty() {
        errors.roles = Some("Choose at least one role.".into());
    }
    Some(ValidPerson {
        name: name?,
        department: department?,
        roles,
    })
    .filter(|_| !errors.any())
}

#[derive(Template)]
#[template(path = "admin/people/new.html")]
struct NewPersonPage {
    page: PageContext,
    form: PersonForm,
    errors: PersonErrors,
    departments: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/people/link.html")]
struct LinkPage {
    page: PageContext,
    heading: String,
    person: User,
    /// None when the link went to the person only.
    link: Option<String>,
    days: i64,
}

async fn department_names(state: &AppState) -> WebResult<Vec<String>> {
    Ok(state
        .db
        .run(departments::list)
        .await?
        .into_iter()
        .map(|d| d.name)
        .collect())
}

pub async fn new_form(state: web::Data<AppState>, signed_in: SignedIn) -> WebResult<HttpResponse> {
    ok(&NewPersonPage {
        page: PageContext::from(&signed_in),
        form: PersonForm {
            role_employee: Some("on".into()),
            ..PersonForm::default()
        },
        errors: PersonErrors::default(),
        departments: department_names(&state).await?,
    })
}

pub async fn create(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<PersonForm>,
) -> WebResult<HttpResponse> {
    let form = form.into_inner();
    let mut errors = PersonErrors::default();
    let email = EmailAddress::parse(&form.email)
        .map_err(|e| errors.email = Some(e.0))
        .ok();
    let person = validate_person(&form, &mut errors);
    let (Some(email), Some(person)) = (email, person) else {
        return refused(&NewPersonPage {
            page: PageContext::from(&signed_in),
            form,
            errors,
            departments: department_names(&state).await?,
        });
    };
    let now = state.clock.now_naive();
    let new_user = NewUser {
        email,
        name: person.name,
        roles: person.roles,
        department: person.department,
    };
    let (base_url, domain) = (state.base_url.clone(), state.mail_domain.clone());
    let admin = signed_in.user.id;
    let outcome = state
        .db
        .run(move |conn| {
            accounts::invite_by_email(
                conn,
                &new_user,
                &mail_context(&base_url, &domain),
                Actor::Person(admin),
                now,
            )
        })
        .await?;
    match outcome {
        InviteOutcome::Invited(person, token) => ok(&LinkPage {
            page: PageContext::from(&signed_in),
            heading: format!("{} was added", person.name),
            link: Some(link_for(&state, &token)),
            person,
            days: store::tokens::PASSWORD_LINK_DAYS,
        }),
        InviteOutcome::EmailTaken => {
            errors.email = Some("Someone with this email address already has an account.".into());
            refused(&NewPersonPage {
                page: PageContext::from(&signed_in),
                form,
                errors,
                departments: department_names(&state).await?,
            })
        }
    }
}

// ---- edit one person -------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
}

#[derive(Template)]
#[template(path = "admin/people/edit.html")]
struct EditPersonPage {
    page: PageContext,
    person: User,
    form: PersonForm,
    errors: PersonErrors,
    departments: Vec<String>,
    notice: Option<&'static str>,
    problem: Option<&'static str>,
    is_self: bool,
}

async fn load_person(state: &AppState, id: i64) -> WebResult<User> {
    state
        .db
        .run(move |conn| users::find(conn, id))
        .await?
        .ok_or_else(AppError::not_found)
}

fn notice_for(done: &str) -> Option<&'static str> {
    match done {
        "saved" => Some("Changes saved."),
        "deactivated" => Some("Deactivated. Their sessions have ended; they can no longer log in."),
        "reactivated" => Some("Reactivated. They can log in again with their password."),
        _ => None,
    }
}

pub async fn edit_form(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
    query: web::Query<DoneQuery>,
) -> WebResult<HttpResponse> {
    let person = load_person(&state, *id).await?;
    ok(&EditPersonPage {
        page: PageContext::from(&signed_in),
        form: PersonForm::from_user(&person),
        is_self: person.id == signed_in.user.id,
        person,
        errors: PersonErrors::default(),
        departments: department_names(&state).await?,
        notice: notice_for(&query.done),
        problem: None,
    })
}

const LAST_ADMIN: &str =
    "Chorus needs at least one active admin. Make someone else an admin first.";

pub async fn update(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
    form: web::Form<PersonForm>,
) -> WebResult<HttpResponse> {
    let person = load_person(&state, *id).await?;
    let mut form = form.into_inner();
    form.email = person.email.clone();
    let mut errors = PersonErrors::default();
    let valid = validate_person(&form, &mut errors);
    let mut problem = None;
    if let Some(valid) = valid {
        let change = ProfileChange {
            name: valid.name,
            roles: valid.roles,
            department: valid.department,
        };
        let now = state.clock.now_naive();
        let person_id = person.id;
        match state
            .db
            .run({
                let admin = signed_in.user.id;
                move |conn| users::update_profile(conn, person_id, &change, admin, now)
            })
            .await?
        {
            ChangeOutcome::Done => {
                return Ok(see_other(&format!("/admin/people/{person_id}?done=saved")));
            }
            ChangeOutcome::NotFound => return Err(AppError::not_found()),
            ChangeOutcome::LastAdmin => problem = Some(LAST_ADMIN),
        }
    }
    refused(&EditPersonPage {
        page: PageContext::from(&signed_in),
        is_self: person.id == signed_in.user.id,
        person,
        form,
        errors,
        departments: department_names(&state).await?,
        notice: None,
        problem,
    })
}

async fn change_active(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: i64,
    active: bool,
) -> WebResult<HttpResponse> {
    let person = load_person(&state, id).await?;
    let problem = if !active && person.id == signed_in.user.id {
        Some("You cannot deactivate your own account.")
    } else {
        let now = state.clock.now_naive();
        match state
            .db
            .run({
                let admin = signed_in.user.id;
                move |conn| users::set_active(conn, id, active, admin, now)
            })
            .await?
        {
            ChangeOutcome::Done => {
                let done = if active { "reactivated" } else { "deactivated" };
                return Ok(see_other(&format!("/admin/people/{id}?done={done}")));
            }
            ChangeOutcome::NotFound => return Err(AppError::not_found()),
            ChangeOutcome::LastAdmin => Some(LAST_ADMIN),
        }
    };
    refused(&EditPersonPage {
        page: PageContext::from(&signed_in),
        is_self: person.id == signed_in.user.id,
        form: PersonForm::from_user(&person),
        person,
        errors: PersonErrors::default(),
        departments: department_names(&state).await?,
        notice: None,
        problem,
    })
}

pub async fn deactivate(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    change_active(state, signed_in, *id, false).await
}

pub async fn reactivate(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    change_active(state, signed_in, *id, true).await
}

pub async fn password_link(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    let person = load_person(&state, *id).await?;
    if !person.active {
        return Err(AppError::bad_request(
            "This person is deactivated. Reactivate them before issuing a password link.",
        ));
    }
    let now = state.clock.now_naive();
    let person_id = person.id;
    let (base_url, domain) = (state.base_url.clone(), state.mail_domain.clone());
    let admin = signed_in.user.id;
    let outcome = state
        .db
        .run(move |conn| {
            accounts::new_password_link_by_email(
                conn,
                person_id,
                &mail_context(&base_url, &domain),
                Actor::Person(admin),
                now,
            )
        })
        .await?
        .ok_or_else(AppError::not_found)?;
    let link = match outcome {
        AdminPasswordLink::Shown(token) => Some(link_for(&state, &token)),
        AdminPasswordLink::EmailedOnly => None,
    };
    ok(&LinkPage {
        page: PageContext::from(&signed_in),
        heading: format!("A new password link for {}", person.name),
        link,
        person,
        days: store::tokens::PASSWORD_LINK_DAYS,
    })
}

// ---- CSV import --------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/people/import.html")]
struct ImportPage {
    page: PageContext,
    error: Option<String>,
    report: Option<ImportReport>,
}

pub struct ImportRow {
    pub line: u64,
    pub email: String,
    pub name: String,
    /// The set-password link when accepted; the reason when refused.
    pub outcome: Result<String, String>,
}

pub struct ImportReport {
    pub rows: Vec<ImportRow>,
    pub accepted: usize,
    pub refused: usize,
}

pub async fn import_form(signed_in: SignedIn) -> WebResult<HttpResponse> {
    ok(&ImportPage {
        page: PageContext::from(&signed_in),
        error: None,
        report: None,
    })
}

/// A row of the file after validation, before it meets the database.
#[derive(Debug)]
struct CandidateRow {
    line: u64,
    email: String,
    name: String,
    parsed: Result<NewUser, String>,
}

const TOO_MANY_ROWS: &str = "The file has more than";

fn parse_csv(bytes: &[u8]) -> Result<Vec<CandidateRow>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        "The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.".to_string()
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("The header line could not be read: {e}"))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(email_col), Some(name_col)) = (column("email"), column("name")) else {
        return Err(
            "The first line must name the columns: email,name,department,role \
             (department and role may be left out)."
                .into(),
        );
    };
    let department_col = column("department");
    let role_col = column("role").or_else(|| column("roles"));
    let mut rows = Vec::new();
    let mut seen: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("The file is not valid CSV: {e}"))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(str::is_empty) {
            continue;
        }
        if rows.len() >= IMPORT_MAX_ROWS {
            return Err(format!(
                "{TOO_MANY_ROWS} {IMPORT_MAX_ROWS} people. Split it into smaller files."
            ));
        }
        let field = |col: Option<usize>| col.and_then(|c| record.get(c)).unwrap_or("").to_string();
        let email_text = field(Some(email_col));
        let name_text = field(Some(name_col));
        let parsed = (|| {
            let email = EmailAddress::parse(&email_text).map_err(|e| e.0)?;
            if let Some(first) = seen.get(email.as_str()) {
                return Err(format!("The same email address is on line {first}."));
            }
            seen.insert(email.to_string(), line);
            let name = PersonName::parse(&name_text).map_err(|e| e.0)?;
            let department =
                DepartmentName::parse_optional(&field(department_col)).map_err(|e| e.0)?;
            let role_text = field(role_col);
            let roles = if role_text.is_empty() {
                Roles::only(Role::Employee)
            } else {
                Roles::parse_list(&role_text).map_err(|e| e.0)?
            };
            Ok(NewUser {
                email,
                name,
                roles,
                department,
            })
        })();
        rows.push(CandidateRow {
            line,
            email: email_text,
            name: name_text,
            parsed,
        });
    }
    if rows.is_empty() {
        return Err("The file has a header line but no people.".into());
    }
    Ok(rows)
}

pub async fn import(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    request: HttpRequest,
    mut payload: Multipart,
) -> WebResult<HttpResponse> {
    let refuse_with = |status: StatusCode, error: String| {
        render(
            status,
            &ImportPage {
                page: PageContext::from(&signed_in),
                error: Some(error),
                report: None,
            },
        )
    };
    let too_large = || {
        refuse_with(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The file is larger than {} MB. Split it into smaller files.",
                IMPORT_MAX_BYTES / (1024 * 1024)
            ),
        )
    };
    // Refuse a declared oversize body before reading any of it, and count
    // what arrives otherwise (chunked uploads declare no length).
    if request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|length| length > IMPORT_MAX_BYTES + 64 * 1024)
    {
        return too_large();
    }
    let mut received = 0usize;
    let mut file: Option<Vec<u8>> = None;
    while let Some(field) = payload.next().await {
        let mut field =
            field.map_err(|_| AppError::bad_request("The upload could not be read."))?;
        let wanted = field.name() == Some("file");
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|_| AppError::bad_request("The upload could not be read."))?;
            received += chunk.len();
            if received > IMPORT_MAX_BYTES {
                return too_large();
            }
            if wanted {
                bytes.extend_from_slice(&chunk);
            }
        }
        if wanted {
            file = Some(bytes);
        }
    }
    let refuse = |error: String| refuse_with(StatusCode::UNPROCESSABLE_ENTITY, error);
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return refuse("Choose a CSV file to upload.".into());
    };
    let candidates = match parse_csv(&bytes) {
        Ok(rows) => rows,
        Err(error) if error.starts_with(TOO_MANY_ROWS) => {
            return refuse_with(StatusCode::PAYLOAD_TOO_LARGE, error);
        }
        Err(error) => return refuse(error),
    };
    let now = state.clock.now_naive();
    let (lines, parsed): (Vec<_>, Vec<_>) = candidates
        .into_iter()
        .map(|c| ((c.line, c.email, c.name), c.parsed))
        .unzip();
    let (base_url, domain) = (state.base_url.clone(), state.mail_domain.clone());
    let admin = signed_in.user.id;
    let outcomes = state
        .db
        .run(move |conn| {
            accounts::invite_many_by_email(
                conn,
                parsed,
                &mail_context(&base_url, &domain),
                Actor::Person(admin),
                now,
            )
        })
        .await?;
    let rows: Vec<ImportRow> = lines
        .into_iter()
        .zip(outcomes)
        .map(|((line, email, name), outcome)| ImportRow {
            line,
            email,
            name,
            outcome,
        })
        .collect();
    let rows: Vec<ImportRow> = rows
        .into_iter()
        .map(|row| ImportRow {
            outcome: row.outcome.map(|token| link_for(&state, &token)),
            ..row
        })
        .collect();
    let accepted = rows.iter().filter(|r| r.outcome.is_ok()).count();
    let report = ImportReport {
        refused: rows.len() - accepted,
        accepted,
        rows,
    };
    ok(&ImportPage {
        page: PageContext::from(&signed_in),
        error: None,
        report: Some(report),
    })
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
        let rows = parse_csv(file.as_bytes()).unwrap();
        assert_eq!(rows.len(), 6);
        assert!(rows[0].parsed.is_ok());
        assert!(rows[1].parsed.as_ref().err().unwrap().contains("email"));
        assert!(rows[2].parsed.as_ref().err().unwrap().contains("line 2"));
        assert!(rows[3].parsed.as_ref().err().unwrap().contains("name"));
        assert!(rows[4].parsed.as_ref().err().unwrap().contains("manager"));
        let eve = rows[5].parsed.as_ref().unwrap();
        assert!(eve.roles.comms && eve.roles.employee);
        assert_eq!(rows[1].line, 3);
    }

    #[test]
    fn a_file_without_the_header_or_people_is_refused_whole() {
        assert!(
            parse_csv(b"ada@example.com,Ada\n")
                .unwrap_err()
                .contains("first line")
        );
        assert!(
            parse_csv(b"email,name\n")
                .unwrap_err()
                .contains("no people")
        );
        assert!(
            parse_csv(&[0xff, 0xfe, 0x00])
                .unwrap_err()
                .contains("UTF-8")
        );
    }
}
