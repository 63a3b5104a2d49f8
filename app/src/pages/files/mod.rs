//! The Files manager (`/files`): its page (`view`), its state as the
//! query string holds it (`query`) and what it reads and changes in the
//! catalogue (`data`).

pub mod data;
pub mod query;
mod view;

pub use view::FilesManagerPage;
