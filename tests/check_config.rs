//! `sallyport check-config` as a user runs it: the real binary on good and bad files, with
//! real certificates from `sallyport pki`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_sallyport");

/// A fresh directory holding copies of the examples, the PKI they name, and the relay's
/// identity-provider key file.
fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sallyport-check-config-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for f in ["relay.toml", "connector.toml"] {
        std::fs::copy(examples.join(f), dir.join(f)).unwrap();
    }
    let out = Command::new(BIN)
        .args(["pki", "--dir"])
        .arg(dir.join("pki"))
        .args(["--relay-name", "relay.example.com"])
        .args(["--connector", "acme:default", "--connector", "acme:berlin"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pki: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Only existence is checked; parsing keys is the relay's job at start.
    std::fs::write(dir.join("keys/corp.pub.pem"), "placeholder").unwrap();
    dir
}

fn check(args: &[&Path]) -> Output {
    Command::new(BIN)
        .arg("check-config")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn examples_with_their_pki_are_accepted() {
    let dir = workdir("good");
    let out = check(&[&dir.join("relay.toml"), &dir.join("connector.toml")]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("relay.toml: ok (relay configuration)"),
        "{text}"
    );
    assert!(
        text.contains("connector.toml: ok (connector configuration)"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_files_fail_unless_no_files() {
    let dir = workdir("missing");
    std::fs::remove_file(dir.join("pki/connector-acme-berlin.key")).unwrap();
    let file = dir.join("connector.toml");
    let out = check(&[&file]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = text.lines().next().unwrap_or_default();
    let example = std::fs::read_to_string(&file).unwrap();
    let key_line = example
        .lines()
        .position(|l| l.starts_with("key = \"pki/connector-acme-berlin.key\""))
        .unwrap()
        + 1;
    assert!(
        line.starts_with(&format!(
            "{}:{key_line}:1: subaccount[1].key: cannot read",
            file.display()
        )),
        "{text}"
    );
    let out = Command::new(BIN)
        .arg("check-config")
        .arg("--no-files")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_error_is_printed_with_file_line_column_and_a_summary() {
    let dir = workdir("bad");
    let file = dir.join("bad-relay.toml");
    std::fs::write(
        &file,
        "[relay]\ncert = \"pki/relay.pem\"\nkey = \"pki/relay.key\"\n\n[relay.http_proxy]\nlisten = \"127.0.0.1:20003\"\n\n[[tenant]]\nname = \"Acme\"\n[[tenant]]\nsecret = 1\n",
    )
    .unwrap();
    let good = dir.join("connector.toml");
    let out = check(&[&good, &file]);
    let text = stdout(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}{err}");
    let f = file.display();
    for expected in [
        format!(
            "{f}:1:2: relay.ca: missing: the relay always verifies connector client certificates"
        ),
        format!("{f}:9:1: tenant[0].name: `Acme`: tenant name contains 'A'"),
        format!("{f}:11:1: tenant[1].secret: unknown field `secret`"),
        format!("{f}:10:1: tenant[1].name: missing field `name`"),
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&expected)),
            "missing {expected:?} in\n{text}"
        );
    }
    assert!(text.contains("connector.toml: ok"), "{text}");
    assert!(err.contains("4 errors in 1 of 2 files"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn syntax_error_and_trusted_warning() {
    let dir = workdir("syntax");
    let file = dir.join("broken.toml");
    std::fs::write(&file, "[connector]\naudit_dir = \"a\nx = 1\n").unwrap();
    let out = check(&[&file]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with(&format!("{}:2:", file.display())),
        "{text}"
    );
    assert!(text.contains("TOML syntax error"), "{text}");

    let relay = dir.join("relay.toml");
    let trusted = std::fs::read_to_string(&relay)
        .unwrap()
        .replace("trusted = false", "trusted = true");
    std::fs::write(&relay, trusted).unwrap();
    let out = check(&[&relay]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("warning: ") && l.contains("tenant[0].trusted")),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
