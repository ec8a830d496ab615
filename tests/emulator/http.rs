//! The one HTTP/1.1 server both emulators stand on, on std's TcpListener:
//! one thread per connection, keep-alive, Content-Length and chunked
//! request bodies, `Expect: 100-continue`. Each emulator reads requests
//! off its connections with [`read_request`] and answers with [`respond`];
//! the Kubernetes one also streams and upgrades connections (exec,
//! port-forward), which is why this is std and not an HTTP crate: an
//! upgrade needs the socket split into a reader and a writer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

/// One request as read off the wire; nothing decoded but the body's
/// framing.
pub struct Request {
    pub method: String,
    /// The request target as sent: `/path?query`, or an absolute URL when
    /// the request came through a proxy.
    pub target: String,
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client wants the connection closed after the answer.
    pub fn closes(&self) -> bool {
        match self.header("connection") {
            Some(c) if c.eq_ignore_ascii_case("close") => true,
            Some(c) if c.eq_ignore_ascii_case("keep-alive") => false,
            _ => self.version == "HTTP/1.0",
        }
    }
}

/// Accepts connections on `listener`, each handed to `connection` on its
/// own thread, until `stopped()` is true when a connection arrives (the
/// owner connects to its own port to wake this loop, see [`wake`]).
pub fn serve(
    listener: TcpListener,
    stopped: impl Fn() -> bool,
    connection: Arc<dyn Fn(TcpStream) + Send + Sync>,
) {
    for conn in listener.incoming() {
        if stopped() {
            return;
        }
        let Ok(conn) = conn else { continue };
        let _ = conn.set_nodelay(true);
        let connection = connection.clone();
        std::thread::spawn(move || connection(conn));
    }
}

/// Wakes [`serve`] on `port` so that it sees it was stopped.
pub fn wake(port: u16) {
    let _ = TcpStream::connect(("127.0.0.1", port));
}

/// The reason phrase sent with a status code.
fn reason(code: u16) -> &'static str {
    match code {
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A complete answer with a body of known length.
pub fn respond(
    out: &mut TcpStream,
    code: u16,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        reason(code),
        body.len()
    );
    out.write_all(head.as_bytes())?;
    out.write_all(body)?;
    out.flush()
}

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;

fn read_line(
    input: &mut BufReader<TcpStream>,
    budget: &mut usize,
) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    let n = input.by_ref().take(*budget as u64).read_line(&mut line)?;
    if n == 0 {
        return Ok(None);
    }
    *budget = budget.saturating_sub(n);
    if !line.ends_with('\n') {
        return Err(std::io::Error::other("request head too long"));
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

/// Reads one request; `None` when the client closed the connection.
/// Answers `Expect: 100-continue` on `out` before reading the body.
pub fn read_request(
    input: &mut BufReader<TcpStream>,
    out: &mut TcpStream,
) -> std::io::Result<Option<Request>> {
    let mut budget = MAX_HEAD;
    let Some(line) = read_line(input, &mut budget)? else {
        return Ok(None);
    };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(std::io::Error::other(format!("bad request line {line:?}")));
    };
    let version = parts.next().unwrap_or("HTTP/1.1").to_string();
    let mut headers = vec![];
    loop {
        let line = read_line(input, &mut budget)?
            .ok_or_else(|| std::io::Error::other("connection closed in the head"))?;
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let mut req = Request {
        method: method.to_ascii_uppercase(),
        target: target.to_string(),
        version,
        headers,
        body: vec![],
    };
    if req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    if req
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        read_chunked(input, &mut req.body)?;
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| std::io::Error::other("bad Content-Length"))?;
        if len > MAX_BODY {
            return Err(std::io::Error::other("request body too large"));
        }
        req.body.resize(len, 0);
        input.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

fn read_chunked(input: &mut BufReader<TcpStream>, body: &mut Vec<u8>) -> std::io::Result<()> {
    loop {
        let mut budget = 1024;
        let line = read_line(input, &mut budget)?
            .ok_or_else(|| std::io::Error::other("truncated chunk"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| std::io::Error::other("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while read_line(input, &mut budget)?.is_some_and(|l| !l.is_empty()) {}
            return Ok(());
        }
        if body.len() + size > MAX_BODY {
            return Err(std::io::Error::other("request body too large"));
        }
        let at = body.len();
        body.resize(at + size, 0);
        input.read_exact(&mut body[at..])?;
        let mut crlf = [0u8; 2];
        input.read_exact(&mut crlf)?;
    }
}

/// Decodes `%XX` escapes; anything else, a malformed escape included, is
/// kept as it is.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A query or form component: `+` is a space, then `%XX` escapes.
pub fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

/// `a=1&b=x+y` into decoded pairs.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

/// `*` matches any run of characters (including `/`); everything else is
/// literal. Used by fault injection.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(
            "*/clusters",
            "/container/v1/projects/p/locations/z/clusters"
        ));
        assert!(glob_match(
            "/iam/*/keys*",
            "/iam/v1/projects/p/serviceAccounts/a/keys"
        ));
        assert!(!glob_match(
            "*/clusters",
            "/container/v1/projects/p/clusters/x"
        ));
        assert!(glob_match("/a", "/a"));
        assert!(!glob_match("/a*b*c", "/abx"));
        assert!(glob_match(
            "/api/v1/namespaces/*/pods",
            "/api/v1/namespaces/x/pods"
        ));
        assert!(!glob_match(
            "/api/v1/namespaces/*/pods",
            "/api/v1/namespaces/x/pods/y"
        ));
        assert!(glob_match("*", "anything"));
    }

    #[test]
    fn decoding() {
        assert_eq!(
            percent_decode("projects%2Fp%3AgetIamPolicy"),
            "projects/p:getIamPolicy"
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("a%zzb+c"), "a%zzb+c");
        assert_eq!(form_decode("app%3Dx%2Cb+c"), "app=x,b c");
        assert_eq!(form_decode("a%2Bb"), "a+b");
        assert_eq!(
            parse_query("filter=state%3AENABLED&x=a+b"),
            vec![
                ("filter".into(), "state:ENABLED".into()),
                ("x".into(), "a b".into())
            ]
        );
    }
}
