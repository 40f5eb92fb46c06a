//! The `sandnet` binary.

fn main() -> std::process::ExitCode {
    sandnet::cli::main()
}
