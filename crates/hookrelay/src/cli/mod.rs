//! The `hookrelay` command line: one module per subcommand.

mod config_cmd;
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
    /// Show configuration.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
}

/// Parses the command line and runs the chosen command.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Config(cmd) => config_cmd::run(cmd),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
