//! `sallyport audit`: tools for the audit trail.

use std::path::PathBuf;

/// Arguments of `sallyport audit`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(clap::Subcommand)]
enum AuditCommand {
    /// Checks hashes, chain, order and checkpoint signatures of an audit directory (an audit
    /// root or one subaccount's directory). Exit 0 when intact, 1 listing every problem.
    Verify {
        /// The audit directory.
        dir: PathBuf,
        /// The connector certificate whose key must have signed the checkpoints.
        #[arg(long)]
        cert: Option<PathBuf>,
    },
}

pub fn run(a: Args) -> Result<(), String> {
    match a.command {
        AuditCommand::Verify { dir, cert } => {
            match sallyport::audit::verify_dir(&dir, cert.as_deref()) {
                Ok(report) => {
                    print!("{report}");
                    Ok(())
                }
                Err(problems) => {
                    let mut msg = format!(
                        "audit log {} is NOT intact: {} problem(s)",
                        dir.display(),
                        problems.len()
                    );
                    for p in &problems {
                        msg.push_str("\n  ");
                        msg.push_str(&p.to_string());
                    }
                    Err(msg)
                }
            }
        }
    }
}
