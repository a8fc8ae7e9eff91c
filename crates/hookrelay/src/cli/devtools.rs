//! `hookrelay listen` and `hookrelay trigger`: thin wrappers around the `hookrelay-devtools` crate.

use hookrelay_devtools::{ListenArgs, TriggerArgs};

pub fn listen(mut args: ListenArgs) -> anyhow::Result<()> {
    if args.server.is_some() && args.api_key.is_none() {
        // The credentials file `serve` wrote here: its license's key (or, with --license for
        // another license, the admin token).
        let found = super::client::credentials::Credentials::find()?;
        args.api_key = match &args.license {
            Some(id) if found.license_id.as_deref() != Some(id.as_str()) => found.admin_token,
            _ => found.api_key,
        };
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        hookrelay_devtools::listen(args, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map(drop)
    })
}

pub fn trigger(args: TriggerArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(hookrelay_devtools::trigger(args))?;
    if report.all_succeeded() {
        Ok(())
    } else {
        anyhow::bail!("not every webhook was answered with HTTP 200")
    }
}
