//! SPDY/3.1 framing, as far as `kubectl port-forward` needs it: client
//! streams (SYN_STREAM with zlib-compressed headers), replies, data,
//! resets and pings. Replies carry an empty header block, written as
//! uncompressed fixed-Huffman literals so no compressor is needed.

use std::io::{Read, Write};

use super::inflate;

pub const SYN_STREAM: u16 = 1;
pub const SYN_REPLY: u16 = 2;
pub const RST_STREAM: u16 = 3;
pub const PING: u16 = 6;
pub const GOAWAY: u16 = 7;
pub const FLAG_FIN: u8 = 1;

pub enum Frame {
    /// A control frame; its flags (FIN on SYN_STREAM) matter to no stream
    /// kubectl opens, so they are not kept.
    Control { kind: u16, data: Vec<u8> },
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

/// Writes reply header blocks as a zlib stream without a compressor: the
/// zlib header once, then each block as fixed-Huffman literals followed by
/// an empty stored block (a sync flush), as a real compressor ends each
/// block. (A stored block alone would not do: Go's inflater reads on past
/// it, into the next frame, before returning its bytes.)
#[derive(Default)]
pub struct HeaderWriter {
    started: bool,
}

impl HeaderWriter {
    pub fn block(&mut self, plain: &[u8]) -> Vec<u8> {
        let mut bits = BitWriter::default();
        if !self.started {
            bits.bytes.extend_from_slice(&[0x78, 0x01]);
            self.started = true;
        }
        bits.push(0, 1); // not final
        bits.push(1, 2); // fixed Huffman codes
        for &b in plain {
            if b < 144 {
                bits.push_code(0x30 + u32::from(b), 8);
            } else {
                bits.push_code(0x190 + u32::from(b) - 144, 9);
            }
        }
        bits.push_code(0, 7); // end of block
        bits.push(0, 3); // an empty stored block...
        bits.align();
        bits.bytes.extend_from_slice(&[0, 0, 0xff, 0xff]); // ...of length 0
        bits.bytes
    }

    /// A header block with no name/value pairs.
    pub fn empty_block(&mut self) -> Vec<u8> {
        self.block(&[0, 0, 0, 0])
    }
}

#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    used: u32,
}

impl BitWriter {
    /// Pushes `n` bits of `value`, least significant first.
    fn push(&mut self, value: u32, n: u32) {
        for i in 0..n {
            if self.used == 0 {
                self.bytes.push(0);
            }
            let last = self.bytes.last_mut().expect("pushed above");
            *last |= (((value >> i) & 1) as u8) << self.used;
            self.used = (self.used + 1) % 8;
        }
    }

    /// Huffman codes go most significant bit first.
    fn push_code(&mut self, code: u32, n: u32) {
        for i in (0..n).rev() {
            self.push((code >> i) & 1, 1);
        }
    }

    fn align(&mut self) {
        self.used = 0;
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
    fn reply_blocks_inflate_back() {
        let mut writer = HeaderWriter::default();
        let plain: Vec<u8> = (0..=255).collect();
        let mut stream = writer.block(&plain);
        stream.extend(writer.empty_block());
        let back = inflate::zlib_with_dictionary(&stream, &[]).unwrap();
        assert_eq!(&back[..256], &plain[..]);
        assert_eq!(&back[256..], [0, 0, 0, 0]);
    }
}
