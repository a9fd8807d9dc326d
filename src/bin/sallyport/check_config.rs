//! `sallyport check-config FILE...`: reads relay or connector configuration files and reports
//! every problem as `FILE:LINE:COL: KEY: MESSAGE`, without starting anything.

use sallyport::config::{self, Options};
use std::path::PathBuf;

/// Arguments of `sallyport check-config`.
#[derive(clap::Args)]
pub struct Args {
    /// Configuration files (relay or connector; the kind comes from the top-level table).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Do not check that the certificates, keys and other files a configuration names exist
    /// (for checking a file away from the machine it will run on).
    #[arg(long)]
    no_files: bool,
}

pub fn run(a: Args) -> Result<(), String> {
    let opts = Options {
        check_files: !a.no_files,
    };
    let mut failed_files = 0usize;
    let mut errors = 0usize;
    for file in &a.files {
        match config::load_any_with(file, &opts) {
            Ok(f) => {
                for w in f.warnings() {
                    println!("warning: {w}");
                }
                println!("{}: ok ({} configuration)", file.display(), f.kind());
            }
            Err(errs) => {
                for e in errs.errors() {
                    println!("{e}");
                }
                failed_files += 1;
                errors += errs.len();
            }
        }
    }
    if failed_files == 0 {
        return Ok(());
    }
    Err(format!(
        "{errors} error{} in {failed_files} of {} file{}",
        if errors == 1 { "" } else { "s" },
        a.files.len(),
        if a.files.len() == 1 { "" } else { "s" },
    ))
}
