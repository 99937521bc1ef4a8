//! Scripted SMTP peers for the faults no well-behaved server shows on demand: silence, 421,
//! 454 to STARTTLS, Microsoft's AUTH replies, and a connection dropped during or after DATA.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the peer misbehaves.
#[derive(Debug, Clone)]
pub enum Script {
    /// Accepts the connection and never says anything.
    Silent,
    /// Greets, then never answers EHLO.
    GreetThenHang,
    /// Greets with `421` and closes.
    Greeting421,
    /// Offers STARTTLS and answers it with `454`.
    StartTls454,
    /// Answers AUTH with this reply line (after a 334 for LOGIN).
    AuthReply(&'static str),
    /// Answers RCPT with this reply line.
    RcptReply(&'static str),
    /// Closes the connection after part of the message, before the final dot.
    DropMidData,
    /// Reads the whole message with its final dot, then closes without replying.
    DropAfterDot,
}

pub struct FaultPeer {
    pub port: u16,
    /// Every command line received, in order.
    pub received: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Drop for FaultPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

pub async fn start(script: Script) -> FaultPeer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let script = script.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let _ = serve(stream, script, log).await;
            });
        }
    });
    FaultPeer {
        port,
        received,
        task,
    }
}

async fn serve(
    stream: TcpStream,
    script: Script,
    log: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let mut io = BufReader::new(stream);
    match script {
        Script::Silent => {
            let mut sink = Vec::new();
            io.read_to_end(&mut sink).await?;
            return Ok(());
        }
        Script::Greeting421 => {
            io.get_mut()
                .write_all(b"421 4.3.2 fault.test Service not available, closing channel\r\n")
                .await?;
            return Ok(());
        }
        _ => {
            io.get_mut()
                .write_all(b"220 fault.test ESMTP scripted\r\n")
                .await?
        }
    }
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        log.lock().expect("log").push(command.clone());
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: String = match (verb.as_str(), &script) {
            ("EHLO", Script::GreetThenHang) => {
                let mut sink = Vec::new();
                io.read_to_end(&mut sink).await?;
                return Ok(());
            }
            ("EHLO", Script::StartTls454) => {
                "250-fault.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n".to_owned()
            }
            ("EHLO", _) => "250-fault.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n".to_owned(),
            ("STARTTLS", _) => "454 4.7.0 TLS not available due to temporary reason\r\n".to_owned(),
            ("AUTH", Script::AuthReply(reply)) => {
                if command.split_whitespace().count() == 2 {
                    // LOGIN without an initial response: take user and password first.
                    io.get_mut().write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                    io.read_line(&mut String::new()).await?;
                    io.get_mut().write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                    io.read_line(&mut String::new()).await?;
                }
                format!("{reply}\r\n")
            }
            ("AUTH", _) => "235 2.7.0 Authentication successful\r\n".to_owned(),
            ("MAIL", _) => "250 2.1.0 Sender OK\r\n".to_owned(),
            ("RCPT", Script::RcptReply(reply)) => format!("{reply}\r\n"),
            ("RCPT", _) => "250 2.1.5 Recipient OK\r\n".to_owned(),
            ("DATA", _) => {
                io.get_mut().write_all(b"354 Start mail input\r\n").await?;
                let mut body = Vec::new();
                loop {
                    let mut chunk = Vec::new();
                    if io.read_until(b'\n', &mut chunk).await? == 0 {
                        return Ok(());
                    }
                    body.extend_from_slice(&chunk);
                    if matches!(script, Script::DropMidData) && body.len() > 64 {
                        // A server that goes away mid-DATA leaves the rest of the message
                        // unread in its socket, and its kernel answers with a reset. Our
                        // buffered reader has already taken those bytes, so reset explicitly.
                        let _ = io.get_ref().set_zero_linger();
                        return Ok(());
                    }
                    if chunk == b".\r\n" {
                        break;
                    }
                }
                if matches!(script, Script::DropAfterDot) {
                    return Ok(());
                }
                "250 2.0.0 Queued as FAULT1\r\n".to_owned()
            }
            ("QUIT", _) => {
                io.get_mut().write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => "502 5.5.2 Command not implemented\r\n".to_owned(),
        };
        io.get_mut().write_all(reply.as_bytes()).await?;
    }
}
