//! Line framing of a byte stream: `\n` ends a line, a trailing `\r` is
//! dropped, each complete line is checked for UTF-8 on its own, and a line
//! longer than the limit is reported once and skipped up to its newline.
//!
//! Because UTF-8 is checked only on complete lines, a multi-byte character split
//! across socket reads is reassembled for free.

/// One unit of a framed stream, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Line(String),
    /// A complete line that is not valid UTF-8; the text describes why.
    InvalidUtf8(String),
    /// A line longer than the limit; its bytes were dropped up to the newline.
    TooLong,
}

#[derive(Debug)]
pub struct LineFramer {
    max_line: usize,
    pending: Vec<u8>,
    /// Inside a too-long line: drop bytes until the next newline.
    skipping: bool,
}

impl LineFramer {
    pub fn new(max_line: u32) -> Self {
        Self {
            max_line: usize::try_from(max_line).unwrap_or(usize::MAX),
            pending: Vec::new(),
            skipping: false,
        }
    }

    /// Frames `chunk`, handing each complete frame to `emit`.
    ///
    /// Holds at most `max_line + 1` bytes between calls, whatever the input.
    pub fn push(&mut self, mut chunk: &[u8], mut emit: impl FnMut(Frame)) {
        while !chunk.is_empty() {
            match chunk.iter().position(|&byte| byte == b'\n') {
                Some(newline) => {
                    let (line, rest) = chunk.split_at(newline);
                    chunk = &rest[1..];
                    if self.skipping {
                        self.skipping = false;
                    } else if self.append(line, &mut emit) {
                        emit(self.take_line());
                    }
                }
                None => {
                    if !self.skipping && !self.append(chunk, &mut emit) {
                        self.skipping = true;
                    }
                    chunk = &[];
                }
            }
        }
    }

    /// Adds bytes to the line in progress, or reports it too long and drops it.
    fn append(&mut self, bytes: &[u8], emit: &mut impl FnMut(Frame)) -> bool {
        // One byte of slack: a `\r` that turns out to end the line does not
        // count against the limit.
        if self.pending.len() + bytes.len() > self.max_line.saturating_add(1) {
            self.pending.clear();
            emit(Frame::TooLong);
            false
        } else {
            self.pending.extend_from_slice(bytes);
            true
        }
    }

    /// Ends the stream: a partial last line is delivered as a line.
    pub fn finish(&mut self) -> Option<Frame> {
        let skipped = std::mem::take(&mut self.skipping);
        if skipped || self.pending.is_empty() {
            self.pending.clear();
            return None;
        }
        Some(self.take_line())
    }

    fn take_line(&mut self) -> Frame {
        let mut line = std::mem::take(&mut self.pending);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.len() > self.max_line {
            return Frame::TooLong;
        }
        match String::from_utf8(line) {
            Ok(text) => Frame::Line(text),
            Err(error) => Frame::InvalidUtf8(format!("line is not UTF-8: {}", error.utf8_error())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame_all(max_line: u32, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut framer = LineFramer::new(max_line);
        let mut frames = Vec::new();
        for chunk in chunks {
            framer.push(chunk, |frame| frames.push(frame));
        }
        frames.extend(framer.finish());
        frames
    }

    fn line(text: &str) -> Frame {
        Frame::Line(text.to_owned())
    }

    #[test]
    fn splits_on_newline_and_drops_carriage_return() {
        assert_eq!(
            frame_all(100, &[b"a\nbb\r\n\nccc\n"]),
            vec![line("a"), line("bb"), line(""), line("ccc")]
        );
    }

    #[test]
    fn partial_last_line_is_delivered_at_finish() {
        assert_eq!(
            frame_all(100, &[b"one\ntw", b"o"]),
            vec![line("one"), line("two")]
        );
    }

    #[test]
    fn multibyte_character_split_across_chunks_is_reassembled() {
        let text = "héllo → wörld\n".as_bytes();
        let chunks: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(frame_all(100, &chunks), vec![line("héllo → wörld")]);
    }

    #[test]
    fn invalid_utf8_affects_only_its_own_line() {
        let frames = frame_all(100, &[b"ok\n\xff\xfe\nafter\n"]);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0], line("ok"));
        assert!(matches!(&frames[1], Frame::InvalidUtf8(why) if why.contains("UTF-8")));
        assert_eq!(frames[2], line("after"));
    }

    #[test]
    fn too_long_line_is_reported_once_and_skipped_to_its_newline() {
        let long = vec![b'x'; 50];
        let frames = frame_all(10, &[b"short\n", &long, &long, b"tail\nnext\n"]);
        assert_eq!(frames, vec![line("short"), Frame::TooLong, line("next")]);
    }

    #[test]
    fn line_of_exactly_the_limit_is_accepted_with_or_without_cr() {
        assert_eq!(
            frame_all(4, &[b"abcd\nabcd\r\n"]),
            vec![line("abcd"), line("abcd")]
        );
        assert_eq!(frame_all(4, &[b"abcde\n"]), vec![Frame::TooLong]);
    }

    #[test]
    fn memory_stays_bounded_without_newline() {
        let mut framer = LineFramer::new(1024);
        let chunk = vec![b'y'; 64 * 1024];
        let mut too_long = 0;
        for _ in 0..160 {
            framer.push(&chunk, |frame| {
                assert_eq!(frame, Frame::TooLong);
                too_long += 1;
            });
            assert!(framer.pending.capacity() <= 2 * 1024);
        }
        assert_eq!(too_long, 1);
        assert_eq!(framer.finish(), None);
    }

    proptest! {
        /// However the stream is cut into reads, the frames are the same.
        #[test]
        fn chunk_boundaries_do_not_change_frames(
            data in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(0xC3u8), Just(0xA9u8), Just(0xFFu8), any::<u8>()],
                0..400,
            ),
            cuts in proptest::collection::vec(0usize..400, 0..20),
            max_line in 1u32..40,
        ) {
            let whole = frame_all(max_line, &[&data]);
            let mut points: Vec<usize> = cuts.into_iter().filter(|&cut| cut <= data.len()).collect();
            points.sort_unstable();
            points.dedup();
            let mut chunks = Vec::new();
            let mut start = 0;
            for point in points {
                chunks.push(&data[start..point]);
                start = point;
            }
            chunks.push(&data[start..]);
            prop_assert_eq!(frame_all(max_line, &chunks), whole);
        }
    }
}
