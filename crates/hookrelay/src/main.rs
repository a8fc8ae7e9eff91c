//! The `hookrelay` binary: everything lives in the library; see `hookrelay --help`.

fn main() -> std::process::ExitCode {
    hookrelay::cli::main()
}
