//! Server settings: command-line flags win over environment variables, which win over an optional
//! TOML file, which wins over the defaults.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
};

use serde::Deserialize;

/// Where the server listens when nothing else is said. Loopback: exposing it is a choice.
pub const DEFAULT_BIND: &str = "127.0.0.1:3000";
/// The data folder, relative to where the server is started.
pub const DEFAULT_DATA_DIR: &str = "data";
/// The built site (WASM, JS, CSS, assets), relative to the project root.
pub const DEFAULT_SITE_ROOT: &str = "target/site";
/// The log filter when nothing else is said.
pub const DEFAULT_LOG: &str = "info";
/// A claimed message's lease: longer than the slowest attempt (the default timeouts allow
/// about three minutes for a large message).
pub const DEFAULT_DELIVERY_LEASE_SECONDS: u64 = 600;
/// How long a stopping server lets the sends in flight finish.
pub const DEFAULT_DRAIN_TIMEOUT_SECONDS: u64 = 30;
/// A session ends after this long without a request.
pub const DEFAULT_SESSION_IDLE_MINUTES: u64 = 30;
/// A session ends this long after sign-in, active or not.
pub const DEFAULT_SESSION_HOURS: u64 = 12;
/// Test sends one admin may start per minute.
pub const DEFAULT_TEST_SENDS_PER_MINUTE: u32 = 10;
/// The SQLite file inside the data folder.
/// The relay's largest message: 25 MiB, what Exchange Online and Gmail take.
pub const DEFAULT_SMTP_MAX_MESSAGE_BYTES: u64 = 25 * 1024 * 1024;
pub const DEFAULT_SMTP_HOSTNAME: &str = "localhost";
/// RFC 5321 §4.5.3.2.7: a server should wait at least 5 minutes for the next command.
pub const DEFAULT_SMTP_IDLE_TIMEOUT_SECONDS: u64 = 300;
pub const SQLITE_FILE_NAME: &str = "outmail.db";

/// The settings as given on the command line or in the environment; every one is optional.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct SettingsArgs {
    /// Address and port to listen on [default: 127.0.0.1:3000]
    #[arg(long, env = "OUTMAIL_BIND", value_name = "ADDR:PORT", global = true)]
    pub bind: Option<SocketAddr>,

    /// Folder for the SQLite database and the secret key; created on first run [default: ./data]
    #[arg(long, env = "OUTMAIL_DATA_DIR", value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// Database: sqlite://FILE or postgres://USER@HOST/DB [default: SQLite in the data folder]
    #[arg(long, env = "OUTMAIL_DATABASE_URL", value_name = "URL", global = true)]
    pub database_url: Option<DatabaseUrl>,

    /// Log filter, e.g. `info` or `outmail_server=debug,tower_http=debug` [default: info]
    #[arg(long, env = "OUTMAIL_LOG", value_name = "FILTER", global = true)]
    pub log: Option<LogFilter>,

    /// Folder of the built site (pkg/ and assets) [default: target/site, else next to the binary]
    #[arg(long, env = "OUTMAIL_SITE_ROOT", value_name = "DIR", global = true)]
    pub site_root: Option<PathBuf>,

    /// Seconds a delivery worker holds a claimed message; after a crash another worker (or
    /// the next start) sends it once this has passed [default: 600]
    #[arg(long, env = "OUTMAIL_DELIVERY_LEASE", value_name = "SECONDS", global = true,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub delivery_lease: Option<u64>,

    /// Seconds a stopping server (SIGTERM, Ctrl-C) waits for the sends in flight to finish
    /// before it exits; a send still running then is left to its lease [default: 30]
    #[arg(long, env = "OUTMAIL_DRAIN_TIMEOUT", value_name = "SECONDS", global = true,
          value_parser = clap::value_parser!(u64).range(0..=3_600))]
    pub drain_timeout: Option<u64>,

    /// Minutes without a request after which a signed-in session ends [default: 30]
    #[arg(long, env = "OUTMAIL_SESSION_IDLE_MINUTES", value_name = "MINUTES", global = true,
          value_parser = clap::value_parser!(u64).range(1..=1_440))]
    pub session_idle_minutes: Option<u64>,

    /// Hours after sign-in at which a session ends however active it is [default: 12]
    #[arg(long, env = "OUTMAIL_SESSION_HOURS", value_name = "HOURS", global = true,
          value_parser = clap::value_parser!(u64).range(1..=720))]
    pub session_hours: Option<u64>,

    /// Test sends each admin may start per minute; more are refused with 429 [default: 10]
    #[arg(long, env = "OUTMAIL_TEST_SENDS_PER_MINUTE", value_name = "COUNT", global = true,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub test_sends_per_minute: Option<u32>,

    /// Private address ranges outmail may connect to, e.g. `10.20.0.0/16,fd00::/8` (link-local
    /// and cloud-metadata addresses are refused whatever this says) [default: none]
    #[arg(
        long,
        env = "OUTMAIL_EGRESS_ALLOW",
        value_name = "CIDR,...",
        global = true,
        value_delimiter = ','
    )]
    pub egress_allow: Option<Vec<ipnet::IpNet>>,

    /// Refuse loopback addresses too (allowed by default, for a local MTA or relay)
    #[arg(long, env = "OUTMAIL_EGRESS_DENY_LOOPBACK", global = true)]
    pub egress_deny_loopback: bool,

    /// Start the SMTP relay: products submit mail here (STARTTLS when a certificate is given)
    /// [default: off]
    #[arg(
        long,
        env = "OUTMAIL_SMTP_BIND",
        value_name = "ADDR:PORT",
        global = true
    )]
    pub smtp_bind: Option<SocketAddr>,

    /// A second relay listener with TLS from the first byte (usually port 465); needs
    /// --smtp-tls-cert [default: off]
    #[arg(
        long,
        env = "OUTMAIL_SMTPS_BIND",
        value_name = "ADDR:PORT",
        global = true
    )]
    pub smtps_bind: Option<SocketAddr>,

    /// The relay's certificate chain (PEM), re-read on SIGHUP and when the file changes
    #[arg(
        long,
        env = "OUTMAIL_SMTP_TLS_CERT",
        value_name = "FILE",
        global = true
    )]
    pub smtp_tls_cert: Option<PathBuf>,

    /// The relay certificate's private key (PEM)
    #[arg(long, env = "OUTMAIL_SMTP_TLS_KEY", value_name = "FILE", global = true)]
    pub smtp_tls_key: Option<PathBuf>,

    /// Networks that may submit to the relay without AUTH, e.g. `10.20.0.0/16` [default: none]
    #[arg(
        long,
        env = "OUTMAIL_SMTP_ALLOW_UNAUTHENTICATED",
        value_name = "CIDR,...",
        global = true,
        value_delimiter = ','
    )]
    pub smtp_allow_unauthenticated: Option<Vec<ipnet::IpNet>>,

    /// The largest message the relay accepts, in bytes [default: 26214400]
    #[arg(
        long,
        env = "OUTMAIL_SMTP_MAX_MESSAGE_BYTES",
        value_name = "BYTES",
        global = true
    )]
    pub smtp_max_message_bytes: Option<u64>,

    /// The name the relay greets with [default: localhost]
    #[arg(
        long,
        env = "OUTMAIL_SMTP_HOSTNAME",
        value_name = "NAME",
        global = true
    )]
    pub smtp_hostname: Option<String>,

    /// How long the relay waits for a client's next line or DATA bytes [default: 300]
    #[arg(long, env = "OUTMAIL_SMTP_IDLE_TIMEOUT", value_name = "SECONDS", global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub smtp_idle_timeout: Option<u64>,

    /// A TOML file with any of the settings above (bind, data_dir, database_url, log, site_root,
    /// delivery_lease, drain_timeout, session_idle_minutes, session_hours,
    /// test_sends_per_minute, egress_allow, egress_deny_loopback, smtp_bind, smtps_bind,
    /// smtp_tls_cert, smtp_tls_key, smtp_allow_unauthenticated, smtp_max_message_bytes,
    /// smtp_hostname, smtp_idle_timeout)
    #[arg(long, env = "OUTMAIL_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
}

/// The same settings, read from the optional TOML file.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<DatabaseUrl>,
    log: Option<LogFilter>,
    site_root: Option<PathBuf>,
    delivery_lease: Option<u64>,
    drain_timeout: Option<u64>,
    session_idle_minutes: Option<u64>,
    session_hours: Option<u64>,
    test_sends_per_minute: Option<u32>,
    egress_allow: Option<Vec<ipnet::IpNet>>,
    egress_deny_loopback: Option<bool>,
    smtp_bind: Option<SocketAddr>,
    smtps_bind: Option<SocketAddr>,
    smtp_tls_cert: Option<PathBuf>,
    smtp_tls_key: Option<PathBuf>,
    smtp_allow_unauthenticated: Option<Vec<ipnet::IpNet>>,
    smtp_max_message_bytes: Option<u64>,
    smtp_hostname: Option<String>,
    smtp_idle_timeout: Option<u64>,
}

/// The resolved settings the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: DatabaseUrl,
    pub log: LogFilter,
    pub site_root: PathBuf,
    /// How long a delivery worker holds a claimed message.
    pub delivery_lease: std::time::Duration,
    /// How long a stopping server waits for the sends in flight.
    pub drain_timeout: std::time::Duration,
    pub access: AccessConfig,
    pub relay: RelayConfig,
}

/// The SMTP relay's listeners and limits.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub smtp_bind: Option<SocketAddr>,
    pub smtps_bind: Option<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub allow_unauthenticated: Vec<ipnet::IpNet>,
    pub max_message_bytes: u64,
    pub hostname: String,
    pub idle_timeout: std::time::Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            smtp_bind: None,
            smtps_bind: None,
            tls_cert: None,
            tls_key: None,
            allow_unauthenticated: Vec::new(),
            max_message_bytes: DEFAULT_SMTP_MAX_MESSAGE_BYTES,
            hostname: DEFAULT_SMTP_HOSTNAME.to_owned(),
            idle_timeout: std::time::Duration::from_secs(DEFAULT_SMTP_IDLE_TIMEOUT_SECONDS),
        }
    }
}

/// Sessions, test-send limits and where outgoing connections may go.
#[derive(Debug, Clone)]
pub struct AccessConfig {
    pub session_idle: std::time::Duration,
    pub session_lifetime: std::time::Duration,
    pub test_sends_per_minute: u32,
    pub egress: outmail_mail::EgressPolicy,
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self {
            session_idle: std::time::Duration::from_secs(DEFAULT_SESSION_IDLE_MINUTES * 60),
            session_lifetime: std::time::Duration::from_secs(DEFAULT_SESSION_HOURS * 3_600),
            test_sends_per_minute: DEFAULT_TEST_SENDS_PER_MINUTE,
            egress: outmail_mail::EgressPolicy::default(),
        }
    }
}

/// Why the settings could not be resolved. Each message names the setting and what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid: {message}")]
    ParseFile { path: PathBuf, message: String },
    #[error("{0}")]
    Relay(String),
}

impl Config {
    /// Resolves flags and environment (already merged by clap) over the file over the defaults.
    pub fn resolve(args: &SettingsArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file_settings(path)?,
            None => FileSettings::default(),
        };
        let relay = relay_config(args, &file)?;
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database_url = args
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| DatabaseUrl::sqlite_in(&data_dir));
        Ok(Self {
            bind: args.bind.or(file.bind).unwrap_or_else(|| {
                DEFAULT_BIND
                    .parse()
                    .expect("the default bind address parses")
            }),
            database_url,
            log: args
                .log
                .clone()
                .or(file.log)
                .unwrap_or_else(|| LogFilter(DEFAULT_LOG.to_string())),
            site_root: args
                .site_root
                .clone()
                .or(file.site_root)
                .unwrap_or_else(default_site_root),
            delivery_lease: std::time::Duration::from_secs(
                args.delivery_lease
                    .or(file.delivery_lease)
                    .unwrap_or(DEFAULT_DELIVERY_LEASE_SECONDS),
            ),
            drain_timeout: std::time::Duration::from_secs(
                args.drain_timeout
                    .or(file.drain_timeout)
                    .unwrap_or(DEFAULT_DRAIN_TIMEOUT_SECONDS),
            ),
            access: AccessConfig {
                session_idle: std::time::Duration::from_secs(
                    60 * args
                        .session_idle_minutes
                        .or(file.session_idle_minutes)
                        .unwrap_or(DEFAULT_SESSION_IDLE_MINUTES),
                ),
                session_lifetime: std::time::Duration::from_secs(
                    3_600
                        * args
                            .session_hours
                            .or(file.session_hours)
                            .unwrap_or(DEFAULT_SESSION_HOURS),
                ),
                test_sends_per_minute: args
                    .test_sends_per_minute
                    .or(file.test_sends_per_minute)
                    .unwrap_or(DEFAULT_TEST_SENDS_PER_MINUTE),
                egress: outmail_mail::EgressPolicy::new(
                    !(args.egress_deny_loopback || file.egress_deny_loopback.unwrap_or(false)),
                    args.egress_allow
                        .clone()
                        .or(file.egress_allow)
                        .unwrap_or_default(),
                ),
            },
            relay,
            data_dir,
        })
    }
}

/// The relay's settings, resolved like the rest (flags and environment over the file).
fn relay_config(args: &SettingsArgs, file: &FileSettings) -> Result<RelayConfig, ConfigError> {
    let relay = RelayConfig {
        smtp_bind: args.smtp_bind.or(file.smtp_bind),
        smtps_bind: args.smtps_bind.or(file.smtps_bind),
        tls_cert: args.smtp_tls_cert.clone().or(file.smtp_tls_cert.clone()),
        tls_key: args.smtp_tls_key.clone().or(file.smtp_tls_key.clone()),
        allow_unauthenticated: args
            .smtp_allow_unauthenticated
            .clone()
            .or(file.smtp_allow_unauthenticated.clone())
            .unwrap_or_default(),
        max_message_bytes: args
            .smtp_max_message_bytes
            .or(file.smtp_max_message_bytes)
            .unwrap_or(DEFAULT_SMTP_MAX_MESSAGE_BYTES),
        hostname: args
            .smtp_hostname
            .clone()
            .or(file.smtp_hostname.clone())
            .unwrap_or_else(|| DEFAULT_SMTP_HOSTNAME.to_owned()),
        idle_timeout: std::time::Duration::from_secs(
            args.smtp_idle_timeout
                .or(file.smtp_idle_timeout)
                .unwrap_or(DEFAULT_SMTP_IDLE_TIMEOUT_SECONDS),
        ),
    };
    if relay.tls_cert.is_some() != relay.tls_key.is_some() {
        return Err(ConfigError::Relay(
            "give both --smtp-tls-cert and --smtp-tls-key, or neither".to_owned(),
        ));
    }
    if relay.smtps_bind.is_some() && relay.tls_cert.is_none() {
        return Err(ConfigError::Relay(
            "--smtps-bind needs a certificate: give --smtp-tls-cert and --smtp-tls-key".to_owned(),
        ));
    }
    if relay.max_message_bytes < 1024 {
        return Err(ConfigError::Relay(
            "--smtp-max-message-bytes must be at least 1024".to_owned(),
        ));
    }
    let valid_name = !relay.hostname.is_empty()
        && relay.hostname.len() <= 253
        && relay
            .hostname
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !valid_name {
        return Err(ConfigError::Relay(format!(
            "--smtp-hostname {:?} must be a host name (letters, digits, '-' and '.')",
            relay.hostname
        )));
    }
    Ok(relay)
}

fn read_file_settings(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|error| ConfigError::ParseFile {
        path: path.to_owned(),
        message: error.to_string().trim_end().to_string(),
    })
}

/// `target/site` when started from the project root; else the `site` folder that cargo-leptos
/// puts beside `target/release`, so the binary also works when started from elsewhere.
fn default_site_root() -> PathBuf {
    let from_project_root = PathBuf::from(DEFAULT_SITE_ROOT);
    if from_project_root.is_dir() {
        return from_project_root;
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("site")))
        .filter(|dir| dir.is_dir())
        .unwrap_or(from_project_root)
}

/// Which database to use. Parsed at the boundary so a typo fails at start, not at first query.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    /// The default: a SQLite file in the data folder, created when missing.
    pub fn sqlite_in(data_dir: &Path) -> Self {
        Self::Sqlite(format!(
            "sqlite://{}?mode=rwc",
            data_dir.join(SQLITE_FILE_NAME).display()
        ))
    }

    /// The backend name reported by the health check.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// The URL itself, password included: for connecting only, never for logs.
    pub fn expose(&self) -> &str {
        match self {
            Self::Sqlite(url) | Self::Postgres(url) => url,
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(url.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_string()))
        } else {
            Err("the database URL must start with sqlite: or postgres://".to_string())
        }
    }
}

impl TryFrom<String> for DatabaseUrl {
    type Error = String;

    fn try_from(url: String) -> Result<Self, Self::Error> {
        url.parse()
    }
}

/// Shows the URL with any password replaced, so it can be logged.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.expose();
        match (url.find("://"), url.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let user_info = &url[scheme_end + 3..at];
                let user = user_info.split(':').next().unwrap_or_default();
                write!(f, "{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
            }
            _ => f.write_str(url),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A `tracing` filter directive, checked when read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct LogFilter(String);

impl LogFilter {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for LogFilter {
    type Err = String;

    fn from_str(filter: &str) -> Result<Self, Self::Err> {
        tracing_subscriber::EnvFilter::try_new(filter)
            .map(|_| Self(filter.to_string()))
            .map_err(|error| {
                format!("not a log filter ({error}); try `info` or `outmail_server=debug`")
            })
    }
}

impl TryFrom<String> for LogFilter {
    type Error = String;

    fn try_from(filter: String) -> Result<Self, Self::Error> {
        filter.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct TestCli {
        #[command(flatten)]
        settings: SettingsArgs,
    }

    fn parse(args: &[&str]) -> Result<SettingsArgs, clap::Error> {
        let argv = std::iter::once("outmail").chain(args.iter().copied());
        TestCli::try_parse_from(argv).map(|cli| cli.settings)
    }

    fn write_config(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), text).expect("write config");
        file
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let config = Config::resolve(&SettingsArgs::default()).unwrap();
        assert_eq!(config.bind.to_string(), DEFAULT_BIND);
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert_eq!(config.database_url.backend(), "sqlite");
        assert_eq!(
            config.database_url.expose(),
            "sqlite://data/outmail.db?mode=rwc"
        );
        assert_eq!(config.log.as_str(), "info");
    }

    #[test]
    fn the_sqlite_default_follows_the_data_dir() {
        let args = parse(&["--data-dir", "/var/lib/outmail"]).unwrap();
        let config = Config::resolve(&args).unwrap();
        assert_eq!(
            config.database_url.expose(),
            "sqlite:///var/lib/outmail/outmail.db?mode=rwc"
        );
    }

    #[test]
    fn a_flag_wins_over_the_config_file() {
        let file = write_config("bind = \"127.0.0.1:4000\"\nlog = \"debug\"\n");
        let path = file.path().to_str().unwrap();
        let args = parse(&["--config", path, "--bind", "127.0.0.1:5000"]).unwrap();
        let config = Config::resolve(&args).unwrap();
        assert_eq!(config.bind.port(), 5000);
        assert_eq!(
            config.log.as_str(),
            "debug",
            "the file still fills what flags leave out"
        );
    }

    #[test]
    fn a_malformed_bind_flag_is_refused_with_its_name() {
        let error = parse(&["--bind", "localhost"]).expect_err("refused");
        let message = error.to_string();
        assert!(message.contains("--bind"), "{message}");
    }

    #[test]
    fn an_unknown_database_scheme_is_refused() {
        let error = parse(&["--database-url", "mysql://x"]).expect_err("refused");
        assert!(
            error.to_string().contains("sqlite: or postgres://"),
            "{error}"
        );
    }

    #[test]
    fn a_bad_log_filter_is_refused() {
        let error = parse(&["--log", "outmail=[["]).expect_err("refused");
        assert!(error.to_string().contains("--log"), "{error}");
    }

    #[test]
    fn an_unknown_key_in_the_config_file_is_named() {
        let file = write_config("bnid = \"127.0.0.1:4000\"\n");
        let args = parse(&["--config", file.path().to_str().unwrap()]).unwrap();
        let error = Config::resolve(&args).unwrap_err().to_string();
        assert!(error.contains("bnid"), "{error}");
    }

    #[test]
    fn a_bad_value_in_the_config_file_is_named() {
        let file = write_config("bind = \"nowhere\"\n");
        let args = parse(&["--config", file.path().to_str().unwrap()]).unwrap();
        let error = Config::resolve(&args).unwrap_err().to_string();
        assert!(error.contains("bind"), "{error}");
    }

    #[test]
    fn a_missing_config_file_is_reported() {
        let args = parse(&["--config", "/nonexistent/outmail.toml"]).unwrap();
        let error = Config::resolve(&args).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/outmail.toml"), "{error}");
    }

    #[test]
    fn a_database_password_is_not_displayed() {
        let url: DatabaseUrl = "postgres://outmail:hunter2@db.example/outmail"
            .parse()
            .unwrap();
        let shown = url.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(shown, "postgres://outmail:***@db.example/outmail");
    }
}
