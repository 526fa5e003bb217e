//! People: adding, editing, importing and deactivating accounts.
