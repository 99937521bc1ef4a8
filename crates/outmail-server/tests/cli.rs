//! The `outmail` binary as a person or a service manager runs it.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

fn outmail() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_outmail"));
    // The environment of whoever runs the tests must not leak into these cases.
    for name in [
        "OUTMAIL_BIND",
        "OUTMAIL_DATA_DIR",
        "OUTMAIL_DATABASE_URL",
        "OUTMAIL_LOG",
        "OUTMAIL_SITE_ROOT",
        "OUTMAIL_CONFIG",
    ] {
        command.env_remove(name);
    }
    command
}

#[test]
fn help_lists_every_setting_with_its_environment_variable() {
    let output = outmail().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for (flag, variable) in [
        ("--bind", "OUTMAIL_BIND"),
        ("--data-dir", "OUTMAIL_DATA_DIR"),
        ("--database-url", "OUTMAIL_DATABASE_URL"),
        ("--log", "OUTMAIL_LOG"),
        ("--site-root", "OUTMAIL_SITE_ROOT"),
        ("--config", "OUTMAIL_CONFIG"),
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
        assert!(help.contains(variable), "{variable} missing from:\n{help}");
    }
    assert!(help.contains("serve"), "{help}");
}

#[test]
fn a_bad_environment_value_is_refused_before_starting() {
    let output = outmail()
        .args(["serve"])
        .env("OUTMAIL_BIND", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("--bind"), "{stderr}");
    assert!(stderr.contains("not-an-address"), "{stderr}");
}

#[test]
fn a_broken_config_file_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("outmail.toml");
    std::fs::write(&file, "bind = 3000\n").unwrap();
    let output = outmail()
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("outmail.toml"), "{stderr}");
    assert!(stderr.contains("bind"), "{stderr}");
}

#[test]
fn serve_prints_its_url_and_exits_zero_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("outmail.toml");
    // The file names the data folder; the flag overrides the file's port.
    std::fs::write(
        &config,
        format!(
            "bind = \"127.0.0.1:1\"\ndata_dir = \"{}\"\n",
            data.path().join("from-file").display()
        ),
    )
    .unwrap();
    let mut child = outmail()
        .args(["serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    assert!(
        first_line.starts_with("outmail is listening on http://127.0.0.1:"),
        "{first_line}"
    );
    assert!(!first_line.contains(":1\n"), "the flag wins over the file: {first_line}");
    assert!(data.path().join("from-file").is_dir(), "the file's data_dir is used");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(std::time::Instant::now() < deadline, "no exit within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(exit.code(), Some(0));
}
