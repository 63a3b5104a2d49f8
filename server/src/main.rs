//! `satchel`: parse the command line, run the command, and turn any error
//! into one line on stderr.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use satchel::config::{Cli, Command, KeysCommand, TokenCommand};

/// `satchel --version`: the package version and the commit it was built
/// from, which `scripts/build.sh` passes in `SATCHEL_COMMIT` (only this
/// binary's crate reads it, so a new commit does not rebuild the library).
fn version() -> &'static str {
    let commit = option_env!("SATCHEL_COMMIT").filter(|c| !c.is_empty()).unwrap_or("unknown");
    Box::leak(format!("{} (commit {commit})", env!("CARGO_PKG_VERSION")).into_boxed_str())
}

/// The site under `target/site` when this binary was built (a debug
/// build reads that directory at run time instead). Only this crate
/// embeds it, so a new bundle rebuilds it alone, not the library.
#[derive(rust_embed::Embed)]
#[folder = "../target/site"]
#[allow_missing = true]
struct Site;

struct Carried;

impl satchel::http::site::Bundle for Carried {
    fn get(&self, path: &str) -> Option<satchel::http::site::CarriedFile> {
        let file = Site::get(path)?;
        let sha256 = file.metadata.sha256_hash();
        Some(satchel::http::site::CarriedFile { data: file.data, sha256 })
    }
}

fn main() -> ExitCode {
    few_malloc_arenas();
    satchel::http::site::carry(std::sync::Arc::new(Carried));
    let matches = Cli::command().version(version()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    satchel::init_tracing();
    // Blob writes and hashing run on blocking threads; a bounded pool keeps
    // hundreds of concurrent uploads from becoming hundreds of threads.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(16)
        .build()
        .expect("the tokio runtime starts");
    runtime.block_on(run(cli))
}

/// glibc gives threads that allocate at once arenas of their own, up to
/// eight per core, and memory freed in one arena serves only that arena.
/// Part bodies pass between the runtime's threads and the blocking pool,
/// so with hundreds of uploads the arenas held a tenth of the process's
/// memory in free lists; two arenas keep it compact at no measurable cost.
fn few_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

async fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        None => satchel::run::serve(cli.serve).await,
        Some(Command::Serve(args)) => satchel::run::serve(*args).await,
        Some(Command::Token(TokenCommand::Create(args))) => {
            satchel::run::token_create(args).await.map(|(id, token)| {
                eprintln!("token {id}");
                println!("{token}");
            })
        }
        Some(Command::Token(TokenCommand::List(args))) => {
            satchel::run::token_list(args).await.map(|list| {
                if !list.is_empty() {
                    println!("{list}")
                }
            })
        }
        Some(Command::Token(TokenCommand::Revoke(args))) => {
            satchel::run::token_revoke(args).await.map(|said| println!("{said}"))
        }
        Some(Command::Keys(KeysCommand::Rotate(args))) => {
            satchel::run::keys_rotate(args).await.map(|said| println!("{said}"))
        }
        Some(Command::DemoSeed(args)) => {
            satchel::run::demo_seed(*args).await.map(|said| println!("{said}"))
        }
        Some(Command::MigrateStorage(args)) => {
            satchel::run::migrate_storage(args).await.map(|said| println!("{said}"))
        }
        Some(Command::Backup(args)) => {
            satchel::run::backup(args).await.map(|said| println!("{said}"))
        }
        Some(Command::Restore(args)) => {
            satchel::run::restore(args).await.map(|said| println!("{said}"))
        }
        Some(Command::Verify(args)) => {
            satchel::run::verify(args).await.map(|said| println!("{said}"))
        }
        Some(Command::LoginLink(args)) => {
            satchel::run::login_link(args).await.map(|link| println!("{link}"))
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("satchel: {e}");
            ExitCode::FAILURE
        }
    }
}
