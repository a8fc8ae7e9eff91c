//! `hookrelay listen` and `hookrelay trigger`: thin wrappers around the `hookrelay-devtools` crate.

use hookrelay_devtools::{ListenArgs, TriggerArgs};

pub fn listen(args: ListenArgs) -> anyhow::Result<()> {
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
