//! Finding `\n` in a vat's lines, eight bytes at a time.
//!
//! `str::find('\n')` on wasm32 goes through `core`'s `memchr`, which works
//! with 4-byte words (wasm32's `usize`); it was a tenth of a line echo's
//! whole CPU time (BENCHMARKS.md). wasm has 64-bit integers, so a word of
//! eight bytes is tested at once here.

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
const NEWLINES: u64 = u64::from_le_bytes([b'\n'; 8]);

/// The index of the first `\n` in `bytes`.
pub(crate) fn find(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let mut eight = [0; 8];
        eight.copy_from_slice(word);
        // Zero where a byte is `\n`. The classic test below marks the first
        // zero byte exactly (later marks may be false, and are not used).
        let word = u64::from_le_bytes(eight) ^ NEWLINES;
        let zeros = word.wrapping_sub(ONES) & !word & HIGHS;
        if zeros != 0 {
            return Some(offset + (zeros.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&byte| byte == b'\n')
        .map(|index| offset + index)
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn finds_the_first_newline_wherever_it_is() {
        for length in 0..40 {
            let mut text = vec![b'x'; length];
            assert_eq!(find(&text), None);
            for at in 0..length {
                text[at] = b'\n';
                assert_eq!(find(&text), Some(at), "length {length}, at {at}");
                // A later newline does not hide it.
                if let Some(last) = text.last_mut() {
                    *last = b'\n';
                }
                assert_eq!(find(&text), Some(at), "length {length}, at {at}");
                text.fill(b'x');
            }
        }
    }

    #[test]
    fn bytes_around_a_newline_do_not_confuse_it() {
        // 0x0b is `\n` + 1, 0x09 is `\n` - 1, 0x8a has `\n` in its low bits.
        let text = [0x0b, 0x09, 0x8a, 0xff, 0x00, 0x0b, 0x8a, 0x09, 0x09, 0x0a];
        assert_eq!(find(&text), Some(9));
        assert_eq!(find(&text[..9]), None);
    }
}
