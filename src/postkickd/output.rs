//! Standard output for the commands that print: `print!` and `println!`
//! panic when stdout is a pipe whose reader has gone (`postkickd status |
//! head -1`); these drop the rest of the output instead, so that a command
//! ends as it would have, with its own exit status and no panic.

/// `print!` that a closed stdout cannot make panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `println!` that a closed stdout cannot make panic.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

pub(crate) use {out, outln};
