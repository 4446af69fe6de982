use std::process::ExitCode;

/// Prints the JSON Schema of the cluster config (draft 2020-12).
///
/// Editors complete and check configs against it: save it and name it in
/// the config's `"$schema"` field, or map `cluster.json` files to it in the
/// editor's settings. It is derived from the parser itself; `vathost check`
/// also checks what a schema cannot (the bootstrap is a vat, every granted
/// channel is declared, limits are in range, components implement the world).
///
/// Example: vathost schema > cluster.schema.json
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status: 0 printed.")]
pub struct SchemaArgs {}

pub fn schema(_: SchemaArgs) -> anyhow::Result<ExitCode> {
    println!(
        "{}",
        serde_json::to_string_pretty(&vathost::config::json_schema())?
    );
    Ok(ExitCode::SUCCESS)
}
