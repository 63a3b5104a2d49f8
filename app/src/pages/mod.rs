//! The pages a signed-in person uses. Each renders on the server (and
//! reads with JavaScript off) and works fully once hydrated.
//!
//! How this folder is laid out, and where new code goes:
//!
//! - A page family gets a folder: `entities/` (lead, contact and company
//!   lists and cards) and `files/` (the Files manager). Inside it,
//!   `view.rs` holds the components and `data.rs` the types they show and
//!   the server functions (`#[server(prefix = "/_pages")]`) that fill
//!   them; plain-Rust logic big enough to test alone sits beside them
//!   (`entities/feed.rs`, `files/query.rs`). The family's `mod.rs` only
//!   declares these and re-exports its pages.
//! - Helpers that more than one family uses (entity types, chips, byte
//!   sizes, dates, error text) go in `shared.rs`, never in a family.
//! - What every page sits in (the signed-in viewer, the top bar,
//!   `RequireViewer`) is `frame.rs`.
//! - The server's side of every server function (calling Satchel's API
//!   in-process, checking what the browser sent) is `backend.rs`, built
//!   with `ssr` only.
//! - This file only declares modules and re-exports what the router
//!   (`crate::App`) and the server crate use.

#[cfg(feature = "ssr")]
pub mod backend;
pub mod entities;
pub mod files;
mod frame;
mod shared;

pub use entities::{EntityCardPage, EntityListPage};
pub use files::FilesManagerPage;
pub use frame::{current_viewer, RequireViewer, TopBar, Viewer, ViewerResource};
pub use shared::{problem, Chip, FileChip, KINDS};
