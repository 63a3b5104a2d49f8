//! Satchel's integration tests, in one binary (each test binary links
//! the whole server): HTTP through the router, the `satchel` binary as
//! an operator runs it, real PostgreSQL and S3 (`s3s-fs`). One module a
//! subject; `support` holds the helpers they share.

#[macro_use]
mod support;

mod blob_contract;
mod cli;
mod crm;
mod embed;
mod files;
mod kommo_account;
mod kommo_bodies;
mod kommo_compat;
mod kommo_files;
mod kommo_links;
mod kommo_notes;
mod leftovers;
mod login;
mod operations;
mod pages;
mod processes;
mod seed;
mod trash;
mod tus;
mod uploads;
