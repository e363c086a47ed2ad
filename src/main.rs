//! The `meridian` command: parse the command line, run, map the outcome to
//! an exit code (0 success, 1 invalid input, 2 usage).

fn main() -> std::process::ExitCode {
    meridian::cli::run()
}
