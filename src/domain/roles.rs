//! Roles a person holds. A person holds one or more of them (see DESIGN.md, Roles).

use super::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Employee,
    Comms,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Employee, Role::Comms, Role::Admin];

    pub fn parse(input: &str) -> Result<Role, Invalid> {
        match input.trim().to_ascii_lowercase().as_str() {
            "employee" => Ok(Role::Employee),
            "comms" => Ok(Role::Comms),
            "admin" => Ok(Role::Admin),
            other => Err(Invalid::new(format!(
                "Unknown role {other:?}: use employee, comms or admin."
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Employee => "employee",
            Role::Comms => "comms",
            Role::Admin => "admin",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Employee => "Employee",
            Role::Comms => "Comms (the hub)",
            Role::Admin => "Admin",
        }
    }
}

/// The set of roles a person holds; never empty once parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Roles {
    pub employee: bool,
    pub comms: bool,
    pub admin: bool,
}

impl Roles {
    pub fn only(role: Role) -> Roles {
        Roles::default().with(role)
    }

    pub fn with(mut self, role: Role) -> Roles {
        match role {
            Role::Employee => self.employee = true,
            Role::Comms => self.comms = true,
            Role::Admin => self.admin = true,
        }
        self
    }

    pub fn has(self, role: Role) -> bool {
        match role {
            Role::Employee => self.employee,
            Role::Comms => self.comms,
            Role::Admin => self.admin,
        }
    }

    pub fn is_empty(self) -> bool {
        !(self.employee || self.comms || self.admin)
    }

    /// Parses a list such as `employee;comms` or `admin, employee`.
    pub fn parse_list(input: &str) -> Result<Roles, Invalid> {
        let mut roles = Roles::default();
        for part in input
            .split([';', ',', '+', '|'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            roles = roles.with(Role::parse(part)?);
        }
        if roles.is_empty() {
            return Err(Invalid::new("Choose at least one role."));
        }
        Ok(roles)
    }

    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.has(*r))
    }

    /// "employee, comms" — for people and CSV files.
    pub fn describe(self) -> String {
        self.iter().map(Role::as_str).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_lists_accept_common_separators_and_any_case() {
        let roles = Roles::parse_list(" Employee; COMMS ").unwrap();
        assert!(roles.employee && roles.comms && !roles.admin);
        assert_eq!(
            Roles::parse_list("admin,employee").unwrap().describe(),
            "employee, admin"
        );
    }

    #[test]
    fn unknown_or_missing_roles_are_refused() {
        assert!(
            Roles::parse_list("manager")
                .unwrap_err()
                .0
                .contains("manager")
        );
        assert!(Roles::parse_list(" ; ").is_err());
    }
}
