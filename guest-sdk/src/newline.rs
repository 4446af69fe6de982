//! Finding `\n` in a vat's lines, sixteen bytes at a time.
//!
//! `str::find('\n')` on wasm32 goes through `core`'s `memchr`, which works
//! with 4-byte words (wasm32's `usize`); it was a tenth of a line echo's
//! whole CPU time (BENCHMARKS.md). On wasm32 the search uses wasm's 128-bit
//! SIMD, enabled for this function alone so a vat builds without flags
//! (every host built on wasmtime runs it); elsewhere, and for the tail,
//! words of eight bytes.

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
const NEWLINES: u64 = u64::from_le_bytes([b'\n'; 8]);

/// The index of the first `\n` in `bytes`.
#[cfg(target_arch = "wasm32")]
pub(crate) fn find(bytes: &[u8]) -> Option<usize> {
    find_simd(bytes)
}

/// The index of the first `\n` in `bytes`.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn find(bytes: &[u8]) -> Option<usize> {
    find_words(bytes)
}

#[cfg(target_arch = "wasm32")]
#[target_feature(enable = "simd128")]
fn find_simd(bytes: &[u8]) -> Option<usize> {
    use core::arch::wasm32::{i8x16_bitmask, i8x16_eq, u64x2, u8x16_splat};
    let newlines = u8x16_splat(b'\n');
    let mut blocks = bytes.chunks_exact(16);
    let mut offset = 0;
    for block in &mut blocks {
        let (low, high) = block.split_at(8);
        let word = |half: &[u8]| {
            let mut eight = [0; 8];
            eight.copy_from_slice(half);
            u64::from_le_bytes(eight)
        };
        // Bit i of the mask is set where byte i is `\n`.
        let mask = i8x16_bitmask(i8x16_eq(u64x2(word(low), word(high)), newlines));
        if mask != 0 {
            return Some(offset + mask.trailing_zeros() as usize);
        }
        offset += 16;
    }
    find_words(blocks.remainder()).map(|index| offset + index)
}

/// The index of the first `\n` in `bytes`, eight bytes at a time.
fn find_words(bytes: &[u8]) -> Option<usize> {
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
    // The wasm32 search is tested end to end: lines of every length and
    // every newline position through the echo vat
    // (`tests/e2e/batching.rs`).

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
