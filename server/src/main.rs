//! `satchel`: parse the command line, run the command, and turn any error
//! into one line on stderr.

use std::process::ExitCode;

use clap::Parser;
use satchel::config::{Cli, Command, TokenCommand};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    satchel::init_tracing();
    let outcome = match cli.command {
        None => satchel::run::serve(cli.serve).await,
        Some(Command::Serve(args)) => satchel::run::serve(args).await,
        Some(Command::Token(TokenCommand::Create(args))) => {
            satchel::run::token_create(args).await.map(|token| println!("{token}"))
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
