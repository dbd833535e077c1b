//! Wiring of `ssc-operator run`: configuration, clients, the controller and the HTTP endpoints.

/// Flags of `ssc-operator run`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {}

pub async fn run(_args: RunArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
