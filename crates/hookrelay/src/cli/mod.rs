//! The `hookrelay` command line: one module per subcommand.

mod backup;
mod client;
mod completions;
mod config_cmd;
mod devtools;
mod serve;

use clap::{Parser, Subcommand};

/// hookrelay: LiveChat webhooks, self-hosted. Run `hookrelay serve` to start the server.
#[derive(Debug, Parser)]
#[command(name = "hookrelay", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (API, LiveChat v2 API, delivery engine).
    Serve(serve::ServeArgs),
    /// Receive webhooks locally and print them (for testing an integration or a sender).
    Listen(hookrelay_devtools::ListenArgs),
    /// Send one realistic sample webhook straight to a URL (no server needed).
    Trigger(hookrelay_devtools::TriggerArgs),
    /// Copy a SQLite database to FILE while a server keeps running on it.
    Backup(backup::BackupArgs),
    /// Show configuration.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// A running server's webhooks: list, add, update, rm, enable, disable, test, rotate-secret.
    Webhooks(client::webhooks::WebhooksArgs),
    /// Post an event to a running server: a JSON file or a realistic sample.
    Events(client::events::EventsArgs),
    /// A running server's deliveries: list, show, resend, recover.
    Deliveries(client::deliveries::DeliveriesArgs),
    /// A running server's licenses: list, create (admin token).
    Licenses(client::licenses::LicensesArgs),
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
}

/// Parses the command line and runs the chosen command.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Listen(args) => devtools::listen(args),
        Command::Trigger(args) => devtools::trigger(args),
        Command::Backup(args) => backup::run(args),
        Command::Config(cmd) => config_cmd::run(cmd),
        Command::Completions(args) => completions::run(args),
        // The client commands choose their exit code: 2 for usage, 1 for a refusal.
        Command::Webhooks(args) => return client::webhooks::main(args),
        Command::Events(args) => return client::events::main(args),
        Command::Deliveries(args) => return client::deliveries::main(args),
        Command::Licenses(args) => return client::licenses::main(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
