//! Names people type: a person's display name and a department name.

use super::Invalid;

fn clean(input: &str) -> String {
    input.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn check(value: &str, what: &str, max: usize) -> Result<(), Invalid> {
    if value.is_empty() {
        return Err(Invalid::new(format!("Enter a {what}.")));
    }
    if value.chars().count() > max {
        return Err(Invalid::new(format!(
            "A {what} has at most {max} characters."
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Invalid::new(format!(
            "A {what} cannot contain control characters."
        )));
    }
    Ok(())
}

/// A person's name as shown to colleagues: inner whitespace collapsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(input: &str) -> Result<PersonName, Invalid> {
        let value = clean(input);
        check(&value, "name", 100)?;
        Ok(PersonName(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A department name; compared without regard to case (see [`DepartmentName::key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentName(String);

impl DepartmentName {
    /// An empty input means "no department".
    pub fn parse_optional(input: &str) -> Result<Option<DepartmentName>, Invalid> {
        let value = clean(input);
        if value.is_empty() {
            return Ok(None);
        }
        check(&value, "department name", 80)?;
        Ok(Some(DepartmentName(value)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key that makes "Sales" and "sales" one department.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_collapse_whitespace_and_refuse_empty_or_long_input() {
        assert_eq!(
            PersonName::parse("  Ada \t Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse(&"x".repeat(101)).is_err());
        assert!(PersonName::parse("Ada\u{0}").is_err());
    }

    #[test]
    fn an_empty_department_means_none_and_case_does_not_split_departments() {
        assert_eq!(DepartmentName::parse_optional("  ").unwrap(), None);
        let a = DepartmentName::parse_optional("Sales ").unwrap().unwrap();
        let b = DepartmentName::parse_optional("sales").unwrap().unwrap();
        assert_eq!(a.key(), b.key());
        assert_eq!(a.as_str(), "Sales");
    }
}
