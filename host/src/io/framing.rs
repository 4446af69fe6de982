//! Line framing of a byte stream: `\n` ends a line, a trailing `\r` is
//! dropped, each complete line is checked for UTF-8 on its own, and a line
//! longer than the limit is reported once and skipped up to its newline.
//!
//! Because UTF-8 is checked only on complete lines, a multi-byte character split
//! across socket reads is reassembled for free. A line that arrives whole in
//! one chunk is handed over as a slice of that chunk: framing allocates
//! nothing per line.

/// One unit of a framed stream, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    Line(&'a str),
    /// A complete line that is not valid UTF-8; the text describes why.
    InvalidUtf8(String),
    /// A line longer than the limit; its bytes were dropped up to the newline.
    TooLong,
}

/// A [`Frame`] that owns its line, to keep past the framer's next call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedFrame {
    Line(String),
    InvalidUtf8(String),
    TooLong,
}

impl Frame<'_> {
    pub fn into_owned(self) -> OwnedFrame {
        match self {
            Frame::Line(line) => OwnedFrame::Line(line.to_owned()),
            Frame::InvalidUtf8(why) => OwnedFrame::InvalidUtf8(why),
            Frame::TooLong => OwnedFrame::TooLong,
        }
    }
}

#[derive(Debug)]
pub struct LineFramer {
    max_line: usize,
    /// The start of a line whose end has not arrived yet.
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
    pub fn push(&mut self, mut chunk: &[u8], mut emit: impl FnMut(Frame<'_>)) {
        while !chunk.is_empty() {
            match memchr::memchr(b'\n', chunk) {
                Some(newline) => {
                    let (line, rest) = chunk.split_at(newline);
                    chunk = &rest[1..];
                    if self.skipping {
                        self.skipping = false;
                    } else if self.pending.is_empty() {
                        // The whole line is in this chunk: no copy.
                        emit(self.frame(line));
                    } else if self.append(line, &mut emit) {
                        let line = std::mem::take(&mut self.pending);
                        emit(self.frame(&line));
                        self.pending = line;
                        self.pending.clear();
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
    fn append(&mut self, bytes: &[u8], emit: &mut impl FnMut(Frame<'_>)) -> bool {
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
    pub fn finish(&mut self, mut emit: impl FnMut(Frame<'_>)) {
        let skipped = std::mem::take(&mut self.skipping);
        let line = std::mem::take(&mut self.pending);
        if !skipped && !line.is_empty() {
            emit(self.frame(&line));
        }
    }

    /// The frame of one complete line, its newline already removed.
    fn frame<'a>(&self, mut line: &'a [u8]) -> Frame<'a> {
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if line.len() > self.max_line {
            return Frame::TooLong;
        }
        match std::str::from_utf8(line) {
            Ok(text) => Frame::Line(text),
            Err(error) => Frame::InvalidUtf8(format!("line is not UTF-8: {error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame_all(max_line: u32, chunks: &[&[u8]]) -> Vec<OwnedFrame> {
        let mut framer = LineFramer::new(max_line);
        let mut frames = Vec::new();
        for chunk in chunks {
            framer.push(chunk, |frame| frames.push(frame.into_owned()));
        }
        framer.finish(|frame| frames.push(frame.into_owned()));
        frames
    }

    fn line(text: &str) -> OwnedFrame {
        OwnedFrame::Line(text.to_owned())
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
        assert!(matches!(&frames[1], OwnedFrame::InvalidUtf8(why) if why.contains("UTF-8")));
        assert_eq!(frames[2], line("after"));
    }

    #[test]
    fn too_long_line_is_reported_once_and_skipped_to_its_newline() {
        let long = vec![b'x'; 50];
        let frames = frame_all(10, &[b"short\n", &long, &long, b"tail\nnext\n"]);
        assert_eq!(
            frames,
            vec![line("short"), OwnedFrame::TooLong, line("next")]
        );
    }

    #[test]
    fn line_of_exactly_the_limit_is_accepted_with_or_without_cr() {
        assert_eq!(
            frame_all(4, &[b"abcd\nabcd\r\n"]),
            vec![line("abcd"), line("abcd")]
        );
        assert_eq!(frame_all(4, &[b"abcde\n"]), vec![OwnedFrame::TooLong]);
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
        framer.finish(|frame| panic!("nothing to finish, got {frame:?}"));
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
