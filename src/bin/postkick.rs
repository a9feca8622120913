//! `postkick [-c config_dir] [-v] class service request`: see
//! [`postkick::postkick`].

fn main() -> std::process::ExitCode {
    postkick::postkick::run(std::env::args_os().collect()).into()
}
