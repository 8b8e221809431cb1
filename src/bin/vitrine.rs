//! The native `vitrine` CLI: trainer, exporter, evaluator and bundle tools.
//! Subcommands live in `src/cli/` (one file each) inside the library, so
//! integration tests can reach them too.
fn main() -> std::process::ExitCode {
    vitrine::cli::main()
}
