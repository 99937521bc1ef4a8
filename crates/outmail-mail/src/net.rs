//! Opening a TCP stream to a server: resolve, connect, and the optional HTTP CONNECT or SOCKS5
//! proxy in between, each with its own stage, timeout and precise error.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use outmail_types::diagnosis::Stage;
use outmail_types::profile::ProxyKind;
use outmail_types::{Host, Port, SecretString};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::egress::EgressPolicy;
use crate::error::{MailError, Reason};
use crate::trace::Trace;

/// Any byte stream we can speak a protocol over: TCP, a proxied TCP, or TLS on top of either.
pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncStream for T {}

pub type BoxedStream = Box<dyn AsyncStream>;

/// A proxy in front of every connection of a profile.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub kind: ProxyKind,
    pub host: Host,
    pub port: Port,
    pub credentials: Option<(String, SecretString)>,
}

impl ProxySettings {
    /// The proxy URL for an HTTP client, without credentials (those go separately).
    pub fn url(&self) -> String {
        let scheme = match self.kind {
            ProxyKind::Http => "http",
            // `socks5h`: the proxy resolves the name, as it does for SMTP.
            ProxyKind::Socks5 => "socks5h",
        };
        format!("{scheme}://{}:{}", self.host.url_host(), self.port)
    }
}

/// Asks this machine's TCP to acknowledge what it receives at once, before each read of a
/// reply. Many mail servers (Postfix among them) write without `TCP_NODELAY`: when a server
/// writes twice in a row (its TLS 1.3 session ticket, then its EHLO reply) the second write
/// waits for our acknowledgement of the first, which Linux delays by up to 40 ms. Linux only;
/// elsewhere a no-op.
#[derive(Debug, Default)]
pub struct QuickAck(Option<std::os::fd::OwnedFd>);

impl QuickAck {
    fn of(tcp: &TcpStream) -> Self {
        use std::os::fd::AsFd;
        Self(tcp.as_fd().try_clone_to_owned().ok())
    }

    pub fn now(&self) {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.0 {
            // Only a latency hint: a failure changes nothing else.
            let _ = socket2::SockRef::from(fd).set_tcp_quickack(true);
        }
    }
}

/// How long each network step may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// One command and its reply (also the TLS handshake).
    pub command: Duration,
    /// Sending the message body and reading the final reply.
    pub data: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            command: Duration::from_secs(30),
            data: Duration::from_secs(120),
        }
    }
}

/// Resolves and connects to `host:port`, through `proxy` when set, recording the `resolve`
/// and `connect` stages. Also returns the [`QuickAck`] of the TCP connection.
pub async fn open(
    trace: &mut Trace,
    host: &Host,
    port: Port,
    proxy: Option<&ProxySettings>,
    timeouts: Timeouts,
    egress: &EgressPolicy,
) -> Result<(BoxedStream, QuickAck), MailError> {
    match proxy {
        None => {
            let addresses = resolve(trace, host, port, timeouts).await?;
            trace.begin(Stage::Connect);
            let addresses = admit(trace, egress, addresses, false)?;
            let (tcp, address) = connect_any(&addresses, timeouts)
                .await
                .map_err(|e| connect_error(e, Stage::Connect, Reason::ConnectionRefused))?;
            trace.note(&format!("connected to {address}"));
            trace.pass(address.to_string());
            let acks = QuickAck::of(&tcp);
            Ok((Box::new(tcp), acks))
        }
        Some(proxy) => {
            let addresses = resolve(trace, &proxy.host, proxy.port, timeouts).await?;
            trace.begin(Stage::Connect);
            let addresses = admit(trace, egress, addresses, true)?;
            // The proxy resolves a host name itself; an address given as the host is checked
            // here, so a proxy is no way around the policy for it.
            if let Some(ip) = host.ip() {
                admit(trace, egress, vec![SocketAddr::new(ip, port.get())], false)?;
            }
            let (tcp, address) = connect_any(&addresses, timeouts)
                .await
                .map_err(|e| connect_error(e, Stage::Connect, Reason::ProxyRefused))?;
            trace.note(&format!(
                "connected to {} proxy {address}",
                proxy.kind.as_str()
            ));
            let target = format!("{}:{}", host.url_host(), port);
            let acks = QuickAck::of(&tcp);
            let stream: BoxedStream = match proxy.kind {
                ProxyKind::Http => Box::new(http_connect(tcp, host, port, proxy, timeouts).await?),
                ProxyKind::Socks5 => {
                    Box::new(socks5_connect(tcp, host, port, proxy, timeouts).await?)
                }
            };
            trace.note(&format!("proxy opened a tunnel to {target}"));
            trace.pass(format!(
                "{target} via {} proxy {address}",
                proxy.kind.as_str()
            ));
            Ok((stream, acks))
        }
    }
}

/// The addresses of `addresses` the egress policy allows, in order; the refused ones are noted
/// in the transcript. An error when none is left (`proxy`: the addresses are the proxy's).
fn admit(
    trace: &mut Trace,
    egress: &EgressPolicy,
    addresses: Vec<SocketAddr>,
    proxy: bool,
) -> Result<Vec<SocketAddr>, MailError> {
    let mut refused = None;
    let mut allowed = Vec::with_capacity(addresses.len());
    for address in addresses {
        match egress.check(address.ip()) {
            Ok(()) => allowed.push(address),
            Err(why) => {
                trace.note(&format!(
                    "not connecting to {}: {}",
                    address.ip(),
                    why.describe()
                ));
                refused = Some((address, why));
            }
        }
    }
    match (allowed.is_empty(), refused) {
        (true, Some((address, why))) => Err(MailError::new(
            Reason::EgressRefused { proxy },
            Stage::Connect,
            format!("{} is {}", address.ip(), why.describe()),
        )),
        _ => Ok(allowed),
    }
}

/// Looks up `host` (an IP address needs no lookup) and records the `resolve` stage.
pub async fn resolve(
    trace: &mut Trace,
    host: &Host,
    port: Port,
    timeouts: Timeouts,
) -> Result<Vec<SocketAddr>, MailError> {
    trace.begin(Stage::Resolve);
    if let Some(ip) = host.ip() {
        trace.pass(format!("{ip} (an address, no lookup)"));
        return Ok(vec![SocketAddr::new(ip, port.get())]);
    }
    let name = host.domain().unwrap_or_default().to_owned();
    let lookup = tokio::net::lookup_host((name.as_str(), port.get()));
    let addresses: Vec<SocketAddr> = match timeout(timeouts.connect, lookup).await {
        Err(_) => {
            return Err(MailError::new(
                Reason::Timeout,
                Stage::Resolve,
                format!("looking up {name} took longer than {:?}", timeouts.connect),
            ));
        }
        Ok(Err(e)) => {
            return Err(MailError::new(
                Reason::DnsFailed,
                Stage::Resolve,
                format!("{name} could not be resolved: {e}"),
            ));
        }
        Ok(Ok(found)) => found.collect(),
    };
    if addresses.is_empty() {
        return Err(MailError::new(
            Reason::DnsFailed,
            Stage::Resolve,
            format!("{name} has no addresses"),
        ));
    }
    let list: Vec<String> = addresses.iter().map(|a| a.ip().to_string()).collect();
    trace.pass(list.join(", "));
    Ok(addresses)
}

/// Tries each address in turn; the last error wins.
async fn connect_any(
    addresses: &[SocketAddr],
    timeouts: Timeouts,
) -> Result<(TcpStream, SocketAddr), (io::Error, SocketAddr)> {
    let mut last = None;
    for &address in addresses {
        match timeout(timeouts.connect, TcpStream::connect(address)).await {
            Ok(Ok(tcp)) => {
                let _ = tcp.set_nodelay(true);
                return Ok((tcp, address));
            }
            Ok(Err(e)) => last = Some((e, address)),
            Err(_) => last = Some((io::Error::from(io::ErrorKind::TimedOut), address)),
        }
    }
    Err(last.unwrap_or_else(|| {
        (
            io::Error::from(io::ErrorKind::AddrNotAvailable),
            SocketAddr::from(([0, 0, 0, 0], 0)),
        )
    }))
}

fn connect_error(
    (e, address): (io::Error, SocketAddr),
    stage: Stage,
    refused: Reason,
) -> MailError {
    let whose = if refused == Reason::ProxyRefused {
        "proxy "
    } else {
        ""
    };
    let reason = match e.kind() {
        io::ErrorKind::ConnectionRefused => refused,
        io::ErrorKind::TimedOut => Reason::Timeout,
        _ => Reason::Unreachable,
    };
    let words = match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        io::ErrorKind::TimedOut => "no answer to the connection attempt".to_owned(),
        _ => e.to_string(),
    };
    MailError::new(reason, stage, format!("{whose}{address}: {words}"))
}

/// `CONNECT host:port` through an HTTP proxy. Reads the proxy's reply one byte at a time up to
/// the blank line, so not a byte of the server's greeting is consumed here.
async fn http_connect(
    mut tcp: TcpStream,
    host: &Host,
    port: Port,
    proxy: &ProxySettings,
    timeouts: Timeouts,
) -> Result<TcpStream, MailError> {
    let target = format!("{}:{}", host.url_host(), port);
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some((user, password)) = &proxy.credentials {
        let token = BASE64.encode(format!("{user}:{}", password.expose()));
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    let exchange = async {
        tcp.write_all(request.as_bytes()).await?;
        let mut head = Vec::with_capacity(256);
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if tcp.read(&mut byte).await? == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            head.push(byte[0]);
            if head.len() > 16 * 1024 {
                return Err(io::Error::other("the proxy's reply header is too long"));
            }
        }
        Ok(head)
    };
    let head = match timeout(timeouts.command, exchange).await {
        Err(_) => {
            return Err(MailError::new(
                Reason::Timeout,
                Stage::Connect,
                "the HTTP proxy did not answer CONNECT in time",
            ));
        }
        Ok(Err(e)) => {
            return Err(MailError::new(
                Reason::ProxyFailed,
                Stage::Connect,
                format!("the HTTP proxy closed the connection: {e}"),
            ));
        }
        Ok(Ok(head)) => head,
    };
    let head = String::from_utf8_lossy(&head);
    let status_line = head.lines().next().unwrap_or_default().to_owned();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    match status {
        200..=299 => Ok(tcp),
        // 407 is the standard answer; tinyproxy answers a CONNECT with bad credentials 401.
        401 | 407 => Err(MailError::new(
            Reason::ProxyAuthFailed,
            Stage::Connect,
            format!("the HTTP proxy refused the credentials: {status_line}"),
        )
        .with_http_status(status)),
        0 => Err(MailError::new(
            Reason::ProxyFailed,
            Stage::Connect,
            format!("not an HTTP proxy reply: {status_line}"),
        )),
        _ => Err(MailError::new(
            Reason::ProxyFailed,
            Stage::Connect,
            format!("the HTTP proxy refused CONNECT {target}: {status_line}"),
        )
        .with_http_status(status)),
    }
}

async fn socks5_connect(
    tcp: TcpStream,
    host: &Host,
    port: Port,
    proxy: &ProxySettings,
    timeouts: Timeouts,
) -> Result<tokio_socks::tcp::Socks5Stream<TcpStream>, MailError> {
    use tokio_socks::tcp::Socks5Stream;
    // The proxy resolves names (like `socks5h`), so the mail host never needs to resolve here.
    let target: (String, u16) = match host.ip() {
        Some(ip) => (ip.to_string(), port.get()),
        None => (host.domain().unwrap_or_default().to_owned(), port.get()),
    };
    let handshake = async {
        match &proxy.credentials {
            Some((user, password)) => {
                Socks5Stream::connect_with_password_and_socket(
                    tcp,
                    (target.0.as_str(), target.1),
                    user,
                    password.expose(),
                )
                .await
            }
            None => Socks5Stream::connect_with_socket(tcp, (target.0.as_str(), target.1)).await,
        }
    };
    match timeout(timeouts.command, handshake).await {
        Err(_) => Err(MailError::new(
            Reason::Timeout,
            Stage::Connect,
            "the SOCKS5 proxy did not answer in time",
        )),
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => {
            use tokio_socks::Error as S;
            let reason = match &e {
                S::PasswordAuthFailure(_)
                | S::NoAcceptableAuthMethods
                | S::AuthorizationRequired => Reason::ProxyAuthFailed,
                _ => Reason::ProxyFailed,
            };
            Err(MailError::new(
                reason,
                Stage::Connect,
                format!(
                    "SOCKS5 proxy: {e} (connecting to {}:{})",
                    target.0, target.1
                ),
            ))
        }
    }
}
