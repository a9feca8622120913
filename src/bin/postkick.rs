//! `postkick [-c config_dir] [-v] class service request`: see
//! [`postkick::command`].

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(postkick::command::run(std::env::args_os().collect()))
}
