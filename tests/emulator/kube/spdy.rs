//! SPDY/3.1 framing, as far as `kubectl port-forward` needs it: client
//! streams (SYN_STREAM with zlib-compressed headers), replies, data,
//! resets and pings. Replies carry an empty header block, written as a
//! stored (uncompressed) zlib block so no compressor is needed.

use std::io::{Read, Write};

use super::inflate;

pub const SYN_STREAM: u16 = 1;
pub const SYN_REPLY: u16 = 2;
pub const RST_STREAM: u16 = 3;
pub const PING: u16 = 6;
pub const GOAWAY: u16 = 7;
pub const FLAG_FIN: u8 = 1;

pub enum Frame {
    Control {
        kind: u16,
        flags: u8,
        data: Vec<u8>,
    },
    Data {
        stream: u32,
        flags: u8,
        data: Vec<u8>,
    },
}

pub fn read_frame(input: &mut dyn Read) -> std::io::Result<Frame> {
    let mut head = [0u8; 8];
    input.read_exact(&mut head)?;
    let flags = head[4];
    let len = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
    let mut data = vec![0u8; len];
    input.read_exact(&mut data)?;
    Ok(if head[0] & 0x80 != 0 {
        Frame::Control {
            kind: u16::from_be_bytes([head[2], head[3]]),
            flags,
            data,
        }
    } else {
        let stream = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) & 0x7fff_ffff;
        Frame::Data {
            stream,
            flags,
            data,
        }
    })
}

pub fn write_control(
    out: &mut dyn Write,
    kind: u16,
    flags: u8,
    data: &[u8],
) -> std::io::Result<()> {
    let len = (data.len() as u32).to_be_bytes();
    let mut frame = vec![0x80, 3];
    frame.extend_from_slice(&kind.to_be_bytes());
    frame.extend_from_slice(&[flags, len[1], len[2], len[3]]);
    frame.extend_from_slice(data);
    out.write_all(&frame)?;
    out.flush()
}

pub fn write_data(out: &mut dyn Write, stream: u32, flags: u8, data: &[u8]) -> std::io::Result<()> {
    let len = (data.len() as u32).to_be_bytes();
    let mut frame = (stream & 0x7fff_ffff).to_be_bytes().to_vec();
    frame.extend_from_slice(&[flags, len[1], len[2], len[3]]);
    frame.extend_from_slice(data);
    out.write_all(&frame)?;
    out.flush()
}

/// Decompresses the client's header blocks: one zlib stream per
/// connection, flushed after each block.
#[derive(Default)]
pub struct HeaderReader {
    compressed: Vec<u8>,
    seen: usize,
}

impl HeaderReader {
    /// The name/value pairs of the next header block.
    pub fn next(&mut self, block: &[u8]) -> Result<Vec<(String, String)>, String> {
        self.compressed.extend_from_slice(block);
        let all = inflate::zlib_with_dictionary(&self.compressed, &dictionary())?;
        let plain = all
            .get(self.seen..)
            .ok_or("header stream went backwards")?
            .to_vec();
        self.seen = all.len();
        parse_pairs(&plain)
    }
}

fn parse_pairs(plain: &[u8]) -> Result<Vec<(String, String)>, String> {
    let count = plain.get(..4).ok_or("empty header block")?;
    let count = u32::from_be_bytes([count[0], count[1], count[2], count[3]]);
    let mut at = 4;
    let mut pairs = vec![];
    let mut next = || -> Result<String, String> {
        let len = plain.get(at..at + 4).ok_or("truncated header block")?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let bytes = plain
            .get(at + 4..at + 4 + len)
            .ok_or("truncated header block")?;
        at += 4 + len;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    };
    for _ in 0..count {
        let name = next()?.to_lowercase();
        let value = next()?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// Writes reply header blocks: the zlib header once, then each block as a
/// stored deflate block (zlib readers accept it; no dictionary is named).
#[derive(Default)]
pub struct HeaderWriter {
    started: bool,
}

impl HeaderWriter {
    pub fn empty_block(&mut self) -> Vec<u8> {
        let plain = [0u8; 4]; // no name/value pairs
        let mut out = vec![];
        if !self.started {
            out.extend_from_slice(&[0x78, 0x01]);
            self.started = true;
        }
        let len = plain.len() as u16;
        out.push(0); // not final, stored
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(&plain);
        out
    }
}

/// SPDY/3's preset header dictionary (draft-mbelshe-httpbis-spdy-00,
/// section 2.6.10.1): length-prefixed words, then a run of common text.
pub fn dictionary() -> Vec<u8> {
    const WORDS: &[&str] = &[
        "options",
        "head",
        "post",
        "put",
        "delete",
        "trace",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "allow",
        "authorization",
        "cache-control",
        "connection",
        "content-base",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expect",
        "expires",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "retry-after",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "method",
        "get",
        "status",
        "200 OK",
        "version",
        "HTTP/1.1",
        "url",
        "public",
        "set-cookie",
        "keep-alive",
        "origin",
    ];
    const TAIL: &str = "100101201202205206300302303304305306307402405406407408409410411412413414\
        415416417502504505203 Non-Authoritative Information204 No Content301 Moved Permanently\
        400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error\
        501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov \
        Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,\
        image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivate\
        max-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
    let mut out = vec![];
    for word in WORDS {
        out.extend_from_slice(&(word.len() as u32).to_be_bytes());
        out.extend_from_slice(word.as_bytes());
    }
    out.extend_from_slice(TAIL.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two header blocks as Python's zlib wrote them (with the dictionary
    /// and a sync flush after each), the way Go's SPDY framer does.
    #[test]
    fn reads_compressed_header_blocks() {
        assert_eq!(dictionary().len(), 1423);
        assert_eq!(inflate::adler32(&dictionary()), 0xe3c6_a7c2);
        let first = [
            120, 187, 227, 198, 167, 194, 2, 37, 58, 112, 58, 43, 41, 74, 77, 204, 133, 22, 37,
            172, 169, 160, 128, 134, 20, 203, 69, 224, 28, 96, 97, 100, 6, 42, 132, 56, 139, 32,
            209, 152, 9, 74, 222, 140, 6, 0, 0, 0, 0, 255, 255,
        ];
        let second = [194, 170, 25, 84, 14, 37, 18, 214, 11, 0, 0, 0, 255, 255];
        let mut reader = HeaderReader::default();
        let pairs = reader.next(&first).unwrap();
        assert_eq!(pairs[0], ("streamtype".into(), "error".into()));
        assert_eq!(pairs[1], ("port".into(), "8265".into()));
        assert_eq!(pairs[2], ("requestid".into(), "0".into()));
        let pairs = reader.next(&second).unwrap();
        assert_eq!(pairs[0], ("streamtype".into(), "data".into()));
    }

    #[test]
    fn reply_blocks_are_stored_zlib() {
        let mut writer = HeaderWriter::default();
        let first = writer.empty_block();
        assert_eq!(first, [0x78, 0x01, 0, 4, 0, 0xfb, 0xff, 0, 0, 0, 0]);
        assert_eq!(writer.empty_block(), first[2..]);
    }
}
