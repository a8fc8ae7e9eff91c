//! The `hookrelay` binary: everything lives in the library; see `hookrelay --help`.

/// mimalloc: measurably cheaper than the system allocator for the many small, short-lived
/// buffers of each request (see docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    hookrelay::cli::main()
}
