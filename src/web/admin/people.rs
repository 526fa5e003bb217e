//! Admin → People: list, add, edit, deactivate and reactivate people, issue
//! set-password links, and invite many at once from a CSV file. The pages
//! parse the forms and render; the rules live in `app::people`.

use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::app::people::{self, ImportReport, Refused};
use crate::domain::ids::UserId;
use crate::domain::people::{Invitee, PersonDetails, PersonProblems, RosterRefused};
use crate::domain::roles::Roles;
use crate::store::tokens::PASSWORD_LINK_DAYS;
use crate::store::users::User;
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::page::DoneQuery;
use crate::web::page::{PageContext, ok, refused, render, see_other};

/// The largest CSV import, whatever carries the CSRF token.
pub const IMPORT_MAX_BYTES: usize = crate::web::auth::session::MULTIPART_LIMIT;

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
    let ListQuery { q, page } = query.into_inner();
    let directory = people::directory(&state, q.clone(), page).await?;
    ok(&PeoplePage {
        page: PageContext::from(&signed_in),
        people: directory.people,
        q,
        total: directory.total,
        page_number: directory.page_number,
        pages: directory.pages,
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

#[derive(Template)]
#[template(path = "admin/people/new.html")]
struct NewPersonPage {
    page: PageContext,
    form: PersonForm,
    errors: PersonProblems,
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

pub async fn new_form(state: web::Data<AppState>, signed_in: SignedIn) -> WebResult<HttpResponse> {
    ok(&NewPersonPage {
        page: PageContext::from(&signed_in),
        form: PersonForm {
            role_employee: Some("on".into()),
            ..PersonForm::default()
        },
        errors: PersonProblems::default(),
        departments: people::department_names(&state).await?,
    })
}

pub async fn create(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<PersonForm>,
) -> WebResult<HttpResponse> {
    let form = form.into_inner();
    let invited = match Invitee::parse(&form.email, &form.name, &form.department, form.roles()) {
        Ok(invitee) => people::invite(&state, invitee, signed_in.id()).await?,
        Err(problems) => Err(problems),
    };
    match invited {
        Ok(added) => ok(&LinkPage {
            page: PageContext::from(&signed_in),
            heading: format!("{} was added", added.person.name),
            link: Some(added.link),
            person: added.person,
            days: PASSWORD_LINK_DAYS,
        }),
        Err(errors) => refused(&NewPersonPage {
            page: PageContext::from(&signed_in),
            form,
            errors,
            departments: people::department_names(&state).await?,
        }),
    }
}

// ---- edit one person -------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/people/edit.html")]
struct EditPersonPage {
    page: PageContext,
    person: User,
    form: PersonForm,
    errors: PersonProblems,
    departments: Vec<String>,
    notice: Option<&'static str>,
    problem: Option<&'static str>,
    is_self: bool,
}

impl EditPersonPage {
    /// The page for `person`, with the form as typed (or as they stand).
    async fn new(
        state: &AppState,
        signed_in: &SignedIn,
        person: User,
        form: Option<PersonForm>,
    ) -> WebResult<EditPersonPage> {
        Ok(EditPersonPage {
            page: PageContext::from(signed_in),
            form: form.unwrap_or_else(|| PersonForm::from_user(&person)),
            is_self: person.id == signed_in.user.id,
            person,
            errors: PersonProblems::default(),
            departments: people::department_names(state).await?,
            notice: None,
            problem: None,
        })
    }
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
    let person = people::find(&state, UserId::new(*id)).await?;
    ok(&EditPersonPage {
        notice: notice_for(&query.done),
        ..EditPersonPage::new(&state, &signed_in, person, None).await?
    })
}

pub async fn update(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
    form: web::Form<PersonForm>,
) -> WebResult<HttpResponse> {
    let person = people::find(&state, UserId::new(*id)).await?;
    let mut form = form.into_inner();
    form.email = person.email.clone();
    let (errors, problem) = match PersonDetails::parse(&form.name, &form.department, form.roles()) {
        Err(errors) => (errors, None),
        Ok(details) => {
            match people::update(&state, person.id.into(), details, signed_in.id()).await? {
                Ok(()) => {
                    return Ok(see_other(&format!(
                        "/admin/people/{}?done=saved",
                        person.id
                    )));
                }
                Err(refusal) => (PersonProblems::default(), Some(refusal.message())),
            }
        }
    };
    refused(&EditPersonPage {
        errors,
        problem,
        ..EditPersonPage::new(&state, &signed_in, person, Some(form)).await?
    })
}

async fn change_active(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: i64,
    active: bool,
) -> WebResult<HttpResponse> {
    let person = people::find(&state, UserId::new(id)).await?;
    let refusal: Refused =
        match people::set_active(&state, person.id.into(), active, signed_in.id()).await? {
            Ok(()) => {
                let done = if active { "reactivated" } else { "deactivated" };
                return Ok(see_other(&format!("/admin/people/{id}?done={done}")));
            }
            Err(refusal) => refusal,
        };
    refused(&EditPersonPage {
        problem: Some(refusal.message()),
        ..EditPersonPage::new(&state, &signed_in, person, None).await?
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
    let issued = people::password_link(&state, UserId::new(*id), signed_in.id()).await?;
    ok(&LinkPage {
        page: PageContext::from(&signed_in),
        heading: format!("A new password link for {}", issued.person.name),
        link: issued.link,
        person: issued.person,
        days: PASSWORD_LINK_DAYS,
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

pub async fn import_form(signed_in: SignedIn) -> WebResult<HttpResponse> {
    ok(&ImportPage {
        page: PageContext::from(&signed_in),
        error: None,
        report: None,
    })
}

/// Why an upload was refused before its file was read.
enum UploadRefused {
    TooLarge,
    Unreadable,
}

/// The bytes of the form's `file` field (empty when there is none): a
/// declared oversize body is refused before any of it is read, and what
/// arrives is counted otherwise (chunked uploads declare no length).
async fn read_file_field(
    request: &HttpRequest,
    mut payload: Multipart,
) -> Result<Vec<u8>, UploadRefused> {
    if request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|length| length > IMPORT_MAX_BYTES + 64 * 1024)
    {
        return Err(UploadRefused::TooLarge);
    }
    let (mut received, mut file) = (0usize, Vec::new());
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|_| UploadRefused::Unreadable)?;
        let wanted = field.name() == Some("file");
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| UploadRefused::Unreadable)?;
            received += chunk.len();
            if received > IMPORT_MAX_BYTES {
                return Err(UploadRefused::TooLarge);
            }
            if wanted {
                bytes.extend_from_slice(&chunk);
            }
        }
        if wanted {
            file = bytes;
        }
    }
    Ok(file)
}

pub async fn import(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    request: HttpRequest,
    payload: Multipart,
) -> WebResult<HttpResponse> {
    let page = |error: Option<String>, report: Option<ImportReport>| ImportPage {
        page: PageContext::from(&signed_in),
        error,
        report,
    };
    let too_large = format!(
        "The file is larger than {} MB. Split it into smaller files.",
        IMPORT_MAX_BYTES / (1024 * 1024)
    );
    let (status, error) = match read_file_field(&request, payload).await {
        Err(UploadRefused::Unreadable) => {
            return Err(AppError::bad_request("The upload could not be read."));
        }
        Err(UploadRefused::TooLarge) => (StatusCode::PAYLOAD_TOO_LARGE, too_large),
        Ok(file) if file.is_empty() => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose a CSV file to upload.".into(),
        ),
        Ok(file) => match people::import(&state, &file, signed_in.id()).await? {
            Ok(report) => return ok(&page(None, Some(report))),
            Err(refused @ RosterRefused::TooManyRows) => {
                (StatusCode::PAYLOAD_TOO_LARGE, refused.message())
            }
            Err(refused) => (StatusCode::UNPROCESSABLE_ENTITY, refused.message()),
        },
    };
    render(status, &page(Some(error), None))
}
