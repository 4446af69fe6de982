use std::process::ExitCode;

use clap::CommandFactory;

/// Prints a completion script for a shell.
///
/// Example: vathost completions bash > ~/.local/share/bash-completion/completions/vathost
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status: 0 printed; 2 an unknown shell.")]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    shell: clap_complete::Shell,
}

pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut command = super::Cli::command();
    clap_complete::generate(args.shell, &mut command, "vathost", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
