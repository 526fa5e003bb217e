//! Accounts: logging in, single sign-on, setup and passwords.
