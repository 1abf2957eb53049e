//! Unsigned LEB128 and zigzag integers, plus the cursor that decodes a chunk payload.

use alloc::string::String;
use alloc::vec::Vec;

/// Writes `v` as unsigned LEB128, a byte at a time.
pub fn leb128(mut v: u64, mut out: impl FnMut(u8)) {
    while v >= 0x80 {
        out((v as u8) | 0x80);
        v >>= 7;
    }
    out(v as u8);
}

/// `v` zigzag-mapped to unsigned (small magnitudes of either sign stay short).
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
pub fn unzigzag(z: u64) -> i64 {
    (z >> 1) as i64 ^ -((z & 1) as i64)
}

/// The unsigned LEB128 integer at the start of `buf` and the bytes it took; None if `buf` ends inside it
/// or it runs past 64 bits' worth of bytes.
pub fn read_leb128(buf: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &b) in buf.iter().take(10).enumerate() {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Appends `v` as unsigned LEB128.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    leb128(v, |b| out.push(b));
}

/// Appends `v` zigzag-encoded.
pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    put_u64(out, zigzag(v));
}

/// Appends a length-prefixed byte string.
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u64(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Payload ended early or held a malformed integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Reads the fields of one chunk payload in order.
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn u64(&mut self) -> Result<u64, Malformed> {
        let (v, len) =
            read_leb128(self.buf.get(self.pos..).unwrap_or_default()).ok_or(Malformed)?;
        self.pos += len;
        Ok(v)
    }

    pub fn u32(&mut self) -> Result<u32, Malformed> {
        u32::try_from(self.u64()?).map_err(|_| Malformed)
    }

    pub fn i64(&mut self) -> Result<i64, Malformed> {
        self.u64().map(unzigzag)
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let n = usize::try_from(self.u64()?).map_err(|_| Malformed)?;
        let end = self.pos.checked_add(n).ok_or(Malformed)?;
        let s = self.buf.get(self.pos..end).ok_or(Malformed)?;
        self.pos = end;
        Ok(s)
    }

    pub fn string(&mut self) -> Result<String, Malformed> {
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }

    /// A count of items that each take at least one byte; bounds allocation on corrupt input.
    pub fn count(&mut self) -> Result<usize, Malformed> {
        let n = usize::try_from(self.u64()?).map_err(|_| Malformed)?;
        if n > self.buf.len() - self.pos.min(self.buf.len()) {
            return Err(Malformed);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn roundtrip_extremes() {
        let vals = [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX];
        let ivals = [0i64, -1, 1, i64::MIN, i64::MAX, -300];
        let mut out = Vec::new();
        vals.iter().for_each(|&v| put_u64(&mut out, v));
        ivals.iter().for_each(|&v| put_i64(&mut out, v));
        put_bytes(&mut out, b"abc");
        let mut c = Cursor::new(&out);
        for &v in &vals {
            assert_eq!(c.u64().unwrap(), v);
        }
        for &v in &ivals {
            assert_eq!(c.i64().unwrap(), v);
        }
        assert_eq!(c.bytes().unwrap(), b"abc");
        assert!(c.is_empty());
        assert_eq!(c.u64(), Err(Malformed));
    }

    #[test]
    fn overlong_varint_is_malformed() {
        let buf = [0xffu8; 11];
        assert_eq!(Cursor::new(&buf).u64(), Err(Malformed));
    }
}
