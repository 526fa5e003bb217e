//! Who a JSON API token speaks for and what it may do: scopes, personal and
//! service tokens, and the rule each API route asks of a caller.

use super::Invalid;
use super::roles::{Role, Roles};

/// What a token may do: `read` answers GET only; `read-write` may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    ReadWrite,
}

impl Scope {
    pub fn parse(input: &str) -> Result<Scope, Invalid> {
        match input.trim() {
            "read" => Ok(Scope::Read),
            "read-write" => Ok(Scope::ReadWrite),
            _ => Err(Invalid::new("Choose read or read-write.")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::ReadWrite => "read-write",
        }
    }
}

/// What an admin's service token (an integration: a chat bot, an intranet
/// widget) may do. It never speaks for a person, so it never sees a queue
/// or anyone's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceRole {
    /// Aggregate reports only.
    Reports,
    /// The hub: post CRUD and scheduling, and aggregate reports.
    Comms,
}

impl ServiceRole {
    pub fn parse(input: &str) -> Result<ServiceRole, Invalid> {
        match input.trim() {
            "reports" => Ok(ServiceRole::Reports),
            "comms" => Ok(ServiceRole::Comms),
            _ => Err(Invalid::new("Choose reports or comms.")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceRole::Reports => "reports",
            ServiceRole::Comms => "comms",
        }
    }
}

/// Whose token it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Acts as its owner, with the owner's roles as they are now.
    Personal,
    /// An integration created by an admin, limited to its service role.
    Service(ServiceRole),
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Personal => "personal",
            TokenKind::Service(_) => "service",
        }
    }

    /// Printed in front of the secret, so that a leaked token is recognisable
    /// (secret scanners, logs) and its kind is plain.
    pub fn token_prefix(self) -> &'static str {
        match self {
            TokenKind::Personal => "chorus_pat_",
            TokenKind::Service(_) => "chorus_svc_",
        }
    }
}

/// The roles a caller acts with: a personal token has its owner's roles; a
/// service token has no person behind it, only its service role (comms, or
/// none for a reports token).
pub fn acting_roles(kind: TokenKind, owner: Roles) -> Roles {
    match kind {
        TokenKind::Personal => owner,
        TokenKind::Service(ServiceRole::Comms) => Roles::only(Role::Comms),
        TokenKind::Service(ServiceRole::Reports) => Roles::default(),
    }
}

/// A token's name, to tell one's tokens apart: one line, 1–80 characters.
pub fn parse_token_name(input: &str) -> Result<String, Invalid> {
    let name = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(Invalid::new(
            "Give the token a name, e.g. the tool that will use it.",
        ));
    }
    if name.chars().count() > 80 || name.chars().any(char::is_control) {
        return Err(Invalid::new(
            "Keep the name to one line of at most 80 characters.",
        ));
    }
    Ok(name)
}

/// The lifetimes offered for a token, in days; `None` never expires.
pub const EXPIRY_CHOICES: [Option<i64>; 5] = [Some(7), Some(30), Some(90), Some(365), None];

/// The lifetime chosen in the form: a number of days from the list, or
/// "never".
pub fn parse_expiry(input: &str) -> Result<Option<i64>, Invalid> {
    let input = input.trim();
    if input == "never" {
        return Ok(None);
    }
    input
        .parse::<i64>()
        .ok()
        .filter(|days| EXPIRY_CHOICES.contains(&Some(*days)))
        .map(Some)
        .ok_or_else(|| Invalid::new("Choose how long the token works from the list."))
}

/// A token asked for on a form: parsed whole, or refused with a problem
/// per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub name: String,
    pub scope: Scope,
    /// Days from now; None never expires.
    pub expires_in_days: Option<i64>,
    pub kind: TokenKind,
}

/// Why a token was refused, field by field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TokenProblems {
    pub name: Option<String>,
    pub scope: Option<String>,
    pub expires: Option<String>,
    pub role: Option<String>,
}

impl TokenRequest {
    /// The form as typed; `service_role` is None for a personal token, the
    /// role as typed for a service token.
    pub fn parse(
        name: &str,
        scope: &str,
        expires: &str,
        service_role: Option<&str>,
    ) -> Result<TokenRequest, TokenProblems> {
        let name = parse_token_name(name);
        let scope = Scope::parse(scope);
        let expires = parse_expiry(expires);
        let kind = match service_role {
            None => Ok(TokenKind::Personal),
            Some(role) => ServiceRole::parse(role).map(TokenKind::Service),
        };
        match (name, scope, expires, kind) {
            (Ok(name), Ok(scope), Ok(expires_in_days), Ok(kind)) => Ok(TokenRequest {
                name,
                scope,
                expires_in_days,
                kind,
            }),
            (name, scope, expires, kind) => Err(TokenProblems {
                name: name.err().map(|e| e.0),
                scope: scope.err().map(|e| e.0),
                expires: expires.err().map(|e| e.0),
                role: kind.err().map(|e| e.0),
            }),
        }
    }
}

/// Who may see aggregate reports: the same roles as the Reports page.
pub const REPORTING_ROLES: &[Role] = &[Role::Admin, Role::Comms];

/// What an API route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any valid token.
    AnyToken,
    /// A person (personal token) holding the role.
    Person(Role),
    /// A caller acting with the role (a person or a comms service token).
    Role(Role),
    /// Aggregate reports: the reporting roles, or any service token.
    Reports,
    /// The second person of the two-person rule: a person (personal
    /// token) who is comms or an admin. A service token speaks for no
    /// one, so it never approves.
    Approver,
}

/// Why a caller is refused, or None when the route is theirs.
pub fn refusal(kind: TokenKind, roles: Roles, need: Need) -> Option<&'static str> {
    let allowed = match need {
        Need::AnyToken => true,
        Need::Person(role) => kind == TokenKind::Personal && roles.has(role),
        Need::Role(role) => roles.has(role),
        Need::Reports => {
            matches!(kind, TokenKind::Service(_)) || REPORTING_ROLES.iter().any(|r| roles.has(*r))
        }
        Need::Approver => {
            kind == TokenKind::Personal && (roles.has(Role::Comms) || roles.has(Role::Admin))
        }
    };
    (!allowed).then_some(match need {
        Need::Person(_) | Need::Approver if kind != TokenKind::Personal => {
            "A service token does not speak for a person; use a personal token."
        }
        _ => "This token's holder does not have the role needed here.",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_token_never_reaches_a_persons_queue_even_with_comms() {
        let comms = TokenKind::Service(ServiceRole::Comms);
        let roles = acting_roles(comms, Roles::only(Role::Admin));
        assert!(refusal(comms, roles, Need::Person(Role::Employee)).is_some());
        assert!(refusal(comms, roles, Need::Role(Role::Comms)).is_none());
        assert!(refusal(comms, roles, Need::Reports).is_none());
        let reports = TokenKind::Service(ServiceRole::Reports);
        let roles = acting_roles(reports, Roles::only(Role::Admin));
        assert!(refusal(reports, roles, Need::Role(Role::Comms)).is_some());
        assert!(refusal(reports, roles, Need::Reports).is_none());
    }

    #[test]
    fn only_a_person_who_is_comms_or_an_admin_approves() {
        let personal = TokenKind::Personal;
        for (roles, allowed) in [
            (Roles::only(Role::Comms), true),
            (Roles::only(Role::Admin), true),
            (Roles::only(Role::Employee), false),
        ] {
            let acting = acting_roles(personal, roles);
            assert_eq!(refusal(personal, acting, Need::Approver).is_none(), allowed);
        }
        let service = TokenKind::Service(ServiceRole::Comms);
        let acting = acting_roles(service, Roles::only(Role::Admin));
        assert!(refusal(service, acting, Need::Approver).is_some());
    }

    #[test]
    fn a_personal_token_has_exactly_its_owners_roles() {
        let employee = Roles::only(Role::Employee);
        let kind = TokenKind::Personal;
        let roles = acting_roles(kind, employee);
        assert!(refusal(kind, roles, Need::Person(Role::Employee)).is_none());
        assert!(refusal(kind, roles, Need::Role(Role::Comms)).is_some());
        assert!(refusal(kind, roles, Need::Reports).is_some());
    }

    #[test]
    fn names_and_lifetimes_are_checked() {
        assert_eq!(parse_token_name("  chat   bot ").unwrap(), "chat bot");
        assert!(parse_token_name(" ").is_err());
        assert!(parse_token_name(&"x".repeat(81)).is_err());
        assert_eq!(parse_expiry("30"), Ok(Some(30)));
        assert_eq!(parse_expiry("never"), Ok(None));
        assert!(parse_expiry("31").is_err());
        assert!(parse_expiry("").is_err());
    }

    #[test]
    fn a_token_form_is_refused_with_a_problem_for_each_field() {
        let problems = TokenRequest::parse(" ", "write", "31", Some("admin")).unwrap_err();
        assert!(problems.name.is_some() && problems.scope.is_some());
        assert!(problems.expires.is_some() && problems.role.is_some());
        let personal = TokenRequest::parse("bot", "read", "never", None).unwrap();
        assert_eq!(personal.kind, TokenKind::Personal);
        assert_eq!(personal.expires_in_days, None);
        let service = TokenRequest::parse("bot", "read-write", "7", Some("comms")).unwrap();
        assert_eq!(service.kind, TokenKind::Service(ServiceRole::Comms));
    }

    #[test]
    fn scopes_parse_only_the_two_names() {
        assert_eq!(Scope::parse("read"), Ok(Scope::Read));
        assert_eq!(Scope::parse("read-write"), Ok(Scope::ReadWrite));
        assert!(Scope::parse("admin").is_err());
    }
}
