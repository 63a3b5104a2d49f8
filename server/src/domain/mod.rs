//! Satchel's domain rules in plain Rust: no axum, no sqlx, no I/O.
//! The HTTP layer parses into these types, the store persists them.

pub mod account;
pub mod crm;
pub mod date_preset;
pub mod digest;
pub mod file_name;
pub mod form;
pub mod invisible;
pub mod listing;
pub mod notes;
pub mod paging;
pub mod parts;
pub mod preview;
pub mod query;
pub mod range;
pub mod scope;
pub mod signing;
pub mod token;
pub mod transliterate;
pub mod trash;
pub mod tus;

pub use scope::{Scope, Scopes};
pub use token::{TokenHash, TokenSecret};
