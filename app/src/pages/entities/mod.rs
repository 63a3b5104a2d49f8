//! Leads, contacts and companies: their list and card pages (`view`),
//! what those pages read and change (`data`) and how a card's feed groups
//! its notes (`feed`).

pub mod data;
pub mod feed;
mod view;

pub use view::{EntityCardPage, EntityListPage};
