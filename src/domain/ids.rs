//! Typed ids, so a post's id cannot be passed where a person's is meant.
//!
//! The use-case layer (`crate::app`) takes and returns these; the store
//! still speaks in the database's `i64` and is reached through `.get()`.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(id: i64) -> Self {
                Self(id)
            }

            /// The id as the database stores it.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A person's account (`users.id`).
    UserId
);
id_type!(
    /// A hub post (`posts.id`).
    PostId
);
id_type!(
    /// A department (`departments.id`).
    DepartmentId
);
id_type!(
    /// An employee's suggestion to the hub (`suggestions.id`).
    SuggestionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_serialise_as_the_bare_number() {
        let id = PostId::new(42);
        assert_eq!(id.to_string(), "42");
        assert_eq!(serde_json::to_string(&id).unwrap(), "42");
        assert_eq!(serde_json::from_str::<UserId>("7").unwrap(), UserId::new(7));
    }
}
