//! What the CLI's test files share: a running server and plain HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test file uses part of it

use std::process::Command;

/// A running `custodian serve` and everything it has printed.
pub struct Server {
    pub child: std::process::Child,
    pub addr: String,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    pub seen: String,
}

impl Server {
    /// Spawns a prepared `custodian serve` (stdout piped) and waits until it
    /// prints the address it listens on.
    #[allow(clippy::zombie_processes)] // returned inside Server: stop() or crash() waits for it
    pub fn spawn(mut cmd: Command) -> Server {
        use std::io::BufRead;
        cmd.stdout(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve exited before it was listening: {seen}");
            }
            seen.push_str(&line);
            if let Some(rest) = line.split("http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap().to_owned();
                return Server {
                    child,
                    addr,
                    stdout,
                    seen,
                };
            }
        }
    }

    /// SIGTERM, wait, and return whether it exited cleanly and all it printed.
    pub fn stop(mut self) -> (bool, String) {
        use std::io::Read;
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let ok = self.child.wait().is_ok_and(|s| s.success());
        let _ = self.stdout.read_to_string(&mut self.seen);
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut self.seen);
        }
        (ok, std::mem::take(&mut self.seen))
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn crash(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A test that fails between start and stop leaves no server running.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The JSON body of a whole HTTP response (Null when there is none).
pub fn body_json(response: &str) -> serde_json::Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// One HTTP/1.1 exchange on a fresh connection; the whole response as text.
pub fn http(addr: &str, method: &str, path: &str, key: Option<&str>, body: &str) -> String {
    try_http(addr, method, path, key, body).unwrap()
}

/// [`http`], with connection failures returned rather than panicking.
pub fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: &str,
) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr)?;
    let auth = key
        .map(|k| format!("authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\n\
         {auth}content-length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(req.as_bytes())?;
    let mut out = String::new();
    conn.read_to_string(&mut out)?;
    Ok(out)
}
