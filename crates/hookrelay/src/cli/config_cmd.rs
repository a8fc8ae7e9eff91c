//! `hookrelay config default`: print the commented default configuration.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the commented default configuration file.
    Default,
}

pub fn run(cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Default => print!("{}", crate::config::DEFAULT_TOML),
    }
    Ok(())
}
