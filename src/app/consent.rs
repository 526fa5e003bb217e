//! Consent: giving and withdrawing it per purpose, and its receipts.
