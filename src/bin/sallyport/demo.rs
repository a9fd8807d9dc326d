//! `sallyport demo`: the embedded default stack on loopback.

use sallyport::io::runtime::IoMode;

/// Arguments of `sallyport demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Exit after the script (non-zero if a step failed) instead of serving on.
    #[arg(long)]
    once: bool,
    /// I/O backend.
    #[arg(long, value_enum, default_value = "auto")]
    io: IoMode,
}

pub fn run(a: Args) -> Result<(), String> {
    if sallyport::demo::run(a.once, a.io) {
        Ok(())
    } else {
        Err("the demo script failed".into())
    }
}
