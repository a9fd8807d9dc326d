//! `sallyport password hash`: the argon2id PHC string for a SOCKS5 user's password.

use std::io::Read as _;

/// Arguments of `sallyport password`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: PasswordCommand,
}

#[derive(clap::Subcommand)]
enum PasswordCommand {
    /// Reads a password from stdin (one trailing newline is dropped) and prints its argon2id
    /// PHC string, for the relay's user list.
    Hash,
}

pub fn run(a: Args) -> Result<(), String> {
    match a.command {
        PasswordCommand::Hash => {
            let mut input = Vec::new();
            std::io::stdin()
                .take(4096)
                .read_to_end(&mut input)
                .map_err(|e| format!("reading the password from stdin: {e}"))?;
            let pw = input
                .strip_suffix(b"\r\n")
                .or_else(|| input.strip_suffix(b"\n"))
                .unwrap_or(&input);
            if pw.is_empty() {
                return Err("empty password on stdin".into());
            }
            if pw.len() > 255 {
                return Err(format!(
                    "password of {} bytes: SOCKS5 (RFC 1929) carries at most 255",
                    pw.len()
                ));
            }
            println!("{}", sallyport::auth::password::hash(pw)?);
            Ok(())
        }
    }
}
