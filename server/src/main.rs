//! `satchel`: parse the command line, run the command, and turn any error
//! into one line on stderr.

use std::process::ExitCode;

use clap::Parser;
use satchel::config::{Cli, Command, TokenCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
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

async fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        None => satchel::run::serve(cli.serve).await,
        Some(Command::Serve(args)) => satchel::run::serve(*args).await,
        Some(Command::Token(TokenCommand::Create(args))) => {
            satchel::run::token_create(args).await.map(|token| println!("{token}"))
        }
        Some(Command::DemoSeed(args)) => {
            satchel::run::demo_seed(*args).await.map(|said| println!("{said}"))
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
