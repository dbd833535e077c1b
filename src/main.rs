//! `ssc-operator`: the controller (`run`), the IAM emulator (`emulator`) and the CRD printer (`crd`).

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ssc-operator", version, about = "Kubernetes operator for AWS IAM service-specific credentials", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller.
    Run(Box<ssc_operator::operator::RunArgs>),
    /// Run the IAM emulator (IAM Query protocol) for dev/test clusters and tests.
    Emulator(Box<ssc_operator::emulator::EmulatorArgs>),
    /// Print the CustomResourceDefinition YAML.
    Crd,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => ssc_operator::operator::run(*args).await,
        Command::Emulator(args) => ssc_operator::emulator::run(*args).await,
        Command::Crd => {
            print!("{}", ssc_operator::api::crd_yaml());
            Ok(())
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
