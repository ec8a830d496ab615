//! A small inflater (RFC 1950/1951) for SPDY header blocks, which kubectl
//! compresses with zlib and SPDY's preset dictionary. It follows the
//! structure of zlib's `puff.c`: slow but short, and only header blocks of
//! a few hundred bytes go through it.

/// Decompresses a zlib stream that may stop at a flush point (SPDY keeps
/// one stream per direction and flushes after every header block).
/// `dictionary` is the preset dictionary; its Adler-32 must match the one
/// the stream names.
pub fn zlib_with_dictionary(data: &[u8], dictionary: &[u8]) -> Result<Vec<u8>, String> {
    if data.len() < 2 {
        return Ok(vec![]);
    }
    let (cmf, flg) = (data[0], data[1]);
    if cmf & 0x0f != 8 || (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
        return Err("not a zlib stream".into());
    }
    let mut at = 2;
    if flg & 0x20 != 0 {
        let want = data.get(2..6).ok_or("truncated zlib header")?;
        let want = u32::from_be_bytes([want[0], want[1], want[2], want[3]]);
        if want != adler32(dictionary) {
            return Err(format!(
                "zlib stream wants dictionary {want:08x}, have {:08x}",
                adler32(dictionary)
            ));
        }
        at = 6;
    }
    let mut out = dictionary.to_vec();
    inflate(&data[at..], &mut out)?;
    Ok(out.split_off(dictionary.len()))
}

pub fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

struct Bits<'a> {
    data: &'a [u8],
    bit: usize,
}

impl Bits<'_> {
    fn need(&mut self, n: u32) -> Result<u32, End> {
        let mut v = 0;
        for i in 0..n {
            let byte = *self.data.get(self.bit / 8).ok_or(End)?;
            v |= u32::from((byte >> (self.bit % 8)) & 1) << i;
            self.bit += 1;
        }
        Ok(v)
    }

    fn align(&mut self) {
        self.bit = self.bit.div_ceil(8) * 8;
    }
}

/// Ran out of input.
struct End;

struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Huffman {
        let mut counts = [0u16; 16];
        for &l in lengths {
            counts[l as usize] += 1;
        }
        counts[0] = 0;
        let mut offsets = [0u16; 16];
        for len in 1..15 {
            offsets[len + 1] = offsets[len] + counts[len];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbols[offsets[l as usize] as usize] = sym as u16;
                offsets[l as usize] += 1;
            }
        }
        Huffman { counts, symbols }
    }

    fn decode(&self, bits: &mut Bits) -> Result<u16, End> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.need(1)? as i32;
            let count = i32::from(self.counts[len]);
            if code - count < first {
                return Ok(self.symbols[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(End)
    }
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// Raw deflate into `out` (which may hold a preset dictionary). Stops
/// quietly when the input ends between blocks or inside one (SPDY frames
/// end at flush points).
fn inflate(data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut bits = Bits { data, bit: 0 };
    loop {
        let Ok(last) = bits.need(1) else {
            return Ok(());
        };
        let Ok(kind) = bits.need(2) else {
            return Ok(());
        };
        let done = match kind {
            0 => stored(&mut bits, out),
            1 => {
                let mut lengths = [0u8; 288];
                lengths[..144].fill(8);
                lengths[144..256].fill(9);
                lengths[256..280].fill(7);
                lengths[280..].fill(8);
                codes(
                    &mut bits,
                    out,
                    &Huffman::new(&lengths),
                    &Huffman::new(&[5; 30]),
                )
            }
            2 => match dynamic_tables(&mut bits) {
                Ok((lit, dist)) => codes(&mut bits, out, &lit, &dist),
                Err(e) => Err(e),
            },
            _ => return Err("invalid deflate block type".into()),
        };
        match done {
            Ok(()) if last == 1 => return Ok(()),
            Ok(()) => {}
            Err(Some(e)) => return Err(e),
            Err(None) => return Ok(()),
        }
    }
}

/// `Err(None)`: the input ended; `Err(Some(_))`: the data is wrong.
type Step = Result<(), Option<String>>;

fn stored(bits: &mut Bits, out: &mut Vec<u8>) -> Step {
    bits.align();
    let at = bits.bit / 8;
    let head = bits.data.get(at..at + 4).ok_or(None)?;
    let len = u16::from_le_bytes([head[0], head[1]]);
    if len != !u16::from_le_bytes([head[2], head[3]]) {
        return Err(Some("stored block length check failed".into()));
    }
    let body = bits.data.get(at + 4..at + 4 + len as usize).ok_or(None)?;
    out.extend_from_slice(body);
    bits.bit = (at + 4 + len as usize) * 8;
    Ok(())
}

fn dynamic_tables(bits: &mut Bits) -> Result<(Huffman, Huffman), Option<String>> {
    let nlen = bits.need(5).map_err(|_| None)? as usize + 257;
    let ndist = bits.need(5).map_err(|_| None)? as usize + 1;
    let ncode = bits.need(4).map_err(|_| None)? as usize + 4;
    const ORDER: [usize; 19] = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ];
    let mut code_lengths = [0u8; 19];
    for &i in ORDER.iter().take(ncode) {
        code_lengths[i] = bits.need(3).map_err(|_| None)? as u8;
    }
    let code = Huffman::new(&code_lengths);
    let mut lengths = vec![];
    while lengths.len() < nlen + ndist {
        let sym = code.decode(bits).map_err(|_| None)?;
        let (value, repeat) = match sym {
            0..=15 => (sym as u8, 1),
            16 => {
                let prev = *lengths
                    .last()
                    .ok_or(Some("repeat with no length".to_string()))?;
                (prev, 3 + bits.need(2).map_err(|_| None)?)
            }
            17 => (0, 3 + bits.need(3).map_err(|_| None)?),
            _ => (0, 11 + bits.need(7).map_err(|_| None)?),
        };
        lengths.extend(std::iter::repeat_n(value, repeat as usize));
    }
    if lengths.len() > nlen + ndist {
        return Err(Some("too many code lengths".into()));
    }
    Ok((
        Huffman::new(&lengths[..nlen]),
        Huffman::new(&lengths[nlen..]),
    ))
}

fn codes(bits: &mut Bits, out: &mut Vec<u8>, lit: &Huffman, dist: &Huffman) -> Step {
    loop {
        let sym = lit.decode(bits).map_err(|_| None)? as usize;
        match sym {
            0..=255 => out.push(sym as u8),
            256 => return Ok(()),
            257..=285 => {
                let i = sym - 257;
                let len = LEN_BASE[i] as usize
                    + bits.need(u32::from(LEN_EXTRA[i])).map_err(|_| None)? as usize;
                let d = dist.decode(bits).map_err(|_| None)? as usize;
                if d >= 30 {
                    return Err(Some("bad distance code".into()));
                }
                let back = DIST_BASE[d] as usize
                    + bits.need(u32::from(DIST_EXTRA[d])).map_err(|_| None)? as usize;
                if back > out.len() {
                    return Err(Some("distance too far back".into()));
                }
                for _ in 0..len {
                    out.push(out[out.len() - back]);
                }
            }
            _ => return Err(Some("bad literal/length code".into())),
        }
    }
}
