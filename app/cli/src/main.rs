//! `cairn-cli`: the headless Cairn messenger.
//!
//! A thin shell over `cairn-core`: parse arguments, read the passphrase, call
//! the core, print text or JSON. Exit status 0 on success, 1 on any error
//! (printed to stderr as `error: ...`).

mod args;
mod commands;
mod network;
mod output;
mod passphrase;
mod relays;
mod time;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Errors can quote names and details others chose: escaped like any output.
            eprintln!("error: {}", output::inline(&describe(&e)));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, skipping causes whose text the message already contains.
fn describe(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
