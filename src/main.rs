//! `ssc-operator`: the controller (`run`), the IAM emulator (`emulator`), the local sandbox
//! (`demo`), the CRD printer (`crd`)
//! and the user commands `status` and `rotate` (also as the kubectl plugin `kubectl ssc`).

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// The name kubectl looks for on PATH to run `kubectl ssc …`.
const KUBECTL_PLUGIN: &str = "kubectl-ssc";

/// jemalloc instead of glibc's malloc: at 10,000 resources glibc kept 14 MiB of its arenas
/// beyond the live heap, and the operator's steady state spent a fifth more CPU (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "ssc-operator", version, about = "Kubernetes operator for AWS IAM service-specific credentials", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller.
    Run(Box<ssc_operator::commands::RunArgs>),
    /// Run the IAM emulator (IAM Query protocol) for dev/test clusters and tests.
    Emulator(Box<iam_emulator::EmulatorArgs>),
    /// Try it with nothing installed: a local sandbox Kubernetes API (in memory, 127.0.0.1 only,
    /// with the CRD), the IAM emulator and the controller in one process, and a kubeconfig for
    /// kubectl. Never a production API server. (Only in builds with the default `demo`
    /// feature: the image leaves it out.)
    #[cfg(feature = "demo")]
    Demo(ssc_operator::commands::DemoArgs),
    /// Print the CustomResourceDefinition YAML.
    Crd,
    /// Show a ServiceSpecificCredential: Ready, credential, expiry, next rotation, quota, whether
    /// its Secret matches its digest, and its Events.
    Status(ssc_operator::commands::Target),
    /// Ask for a rotation now (sets the rotate annotation) and wait until the operator did it.
    Rotate(ssc_operator::commands::RotateArgs),
    /// Print a shell completion script (e.g. `source <(ssc-operator completion bash)`).
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The command line, named `kubectl ssc` in help and errors when run as the kubectl plugin.
fn command_line() -> (Cli, String) {
    let invoked = std::env::args_os()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let name = if invoked == KUBECTL_PLUGIN {
        "kubectl ssc"
    } else {
        "ssc-operator"
    };
    let matches = Cli::command().bin_name(name).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    (cli, invoked)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let (cli, invoked) = command_line();
    let result = match cli.command {
        Command::Run(args) => ssc_operator::commands::run(*args)
            .await
            .map_err(anyhow::Error::from),
        Command::Emulator(args) => iam_emulator::run(*args).await.map_err(anyhow::Error::from),
        #[cfg(feature = "demo")]
        Command::Demo(args) => ssc_operator::commands::demo(args)
            .await
            .map_err(anyhow::Error::from),
        Command::Crd => {
            print!("{}", ssc_operator::all_crds_yaml());
            Ok(())
        }
        Command::Status(target) => ssc_operator::commands::status(target)
            .await
            .map(|report| print!("{report}"))
            .map_err(anyhow::Error::from),
        Command::Rotate(args) => ssc_operator::commands::rotate(args)
            .await
            .map(|report| print!("{report}"))
            .map_err(anyhow::Error::from),
        Command::Completion { shell } => {
            let bin = if invoked == KUBECTL_PLUGIN {
                KUBECTL_PLUGIN
            } else {
                "ssc-operator"
            };
            clap_complete::generate(shell, &mut Cli::command(), bin, &mut std::io::stdout());
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
