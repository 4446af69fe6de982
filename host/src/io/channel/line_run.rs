//! Lines that arrived together, kept as one text: each line followed by
//! `\n`, read from the front. One allocation per socket read rather than per
//! line, and a batch of lines is handed to a vat as one slice of it.

/// Complete lines (none contains `\n`), each followed by `\n`; the lines
/// before `start` have been read.
#[derive(Debug, Default)]
pub(crate) struct LineRun {
    text: String,
    start: usize,
    /// Lines from `start` on.
    count: usize,
}

/// Runs are equal when their unread lines are: what was read before does
/// not count.
impl PartialEq for LineRun {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.unread() == other.unread()
    }
}

impl Eq for LineRun {}

impl LineRun {
    /// A run of `lines`, none of which may contain `\n`.
    #[cfg(test)]
    pub(crate) fn of<'a>(lines: impl IntoIterator<Item = &'a str>) -> Self {
        let mut run = Self::default();
        for line in lines {
            run.push(line);
        }
        run
    }

    /// An empty run with room for `bytes` of lines.
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        Self {
            text: String::with_capacity(bytes),
            ..Self::default()
        }
    }

    /// A run of one line, which must not contain `\n`.
    pub(crate) fn of_one(line: &str) -> Self {
        let mut run = Self::default();
        run.push(line);
        run
    }

    /// Adds a line, which the framer guarantees holds no `\n`.
    pub(crate) fn push(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        self.count += 1;
    }

    /// Lines not yet read.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The unread text: whole lines, each followed by `\n`.
    pub(crate) fn unread(&self) -> &str {
        &self.text[self.start..]
    }

    /// Takes the first unread line, without its `\n`.
    pub(crate) fn pop_line(&mut self) -> Option<String> {
        let rest = self.unread();
        let end = memchr::memchr(b'\n', rest.as_bytes())?;
        let line = rest[..end].to_owned();
        self.consume(end + 1, 1);
        Some(line)
    }

    /// How many bytes the first lines take, up to `max_bytes` but at least
    /// one line, and how many lines that is.
    pub(crate) fn front(&self, max_bytes: usize) -> (usize, usize) {
        let rest = self.unread().as_bytes();
        if rest.len() <= max_bytes {
            return (rest.len(), self.count);
        }
        let mut bytes = 0;
        let mut lines = 0;
        for newline in memchr::memchr_iter(b'\n', rest) {
            if lines > 0 && newline + 1 > max_bytes {
                break;
            }
            bytes = newline + 1;
            lines += 1;
        }
        (bytes, lines)
    }

    /// Marks `bytes` (which hold `lines` whole lines) as read.
    pub(crate) fn consume(&mut self, bytes: usize, lines: usize) {
        self.start += bytes;
        self.count -= lines;
        if self.count == 0 {
            self.text = String::new();
            self.start = 0;
        }
    }

    /// Takes the first `lines` lines (all, if it holds no more) as a run
    /// of their own; the rest stays. Only what is taken is copied: a long
    /// run cut into queue-sized pieces is copied once in all, not once per
    /// piece.
    pub(crate) fn split_to(&mut self, lines: usize) -> Self {
        if lines >= self.count {
            return std::mem::take(self);
        }
        let rest = self.unread().as_bytes();
        let cut = memchr::memchr_iter(b'\n', rest)
            .nth(lines.saturating_sub(1))
            .map_or(rest.len(), |newline| newline + 1);
        let head = Self {
            text: self.text[self.start..self.start + cut].to_owned(),
            start: 0,
            count: lines,
        };
        self.consume(cut, lines);
        head
    }
}

/// The byte length of the last `lines` lines of `text` (whole lines, each
/// followed by `\n`); all of it if it holds fewer.
pub(crate) fn tail_bytes(text: &str, lines: usize) -> usize {
    if lines == 0 {
        return 0;
    }
    let bytes = text.as_bytes();
    // The newline ending the line before the tail, skipping the last one.
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    match memchr::memrchr_iter(b'\n', body).nth(lines - 1) {
        Some(newline) => bytes.len() - (newline + 1),
        None => bytes.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_out_in_order_and_the_run_empties() {
        let mut run = LineRun::of(["a", "", "ccc"]);
        assert_eq!(run.len(), 3);
        assert_eq!(run.pop_line().as_deref(), Some("a"));
        assert_eq!(run.unread(), "\nccc\n");
        assert_eq!(run.pop_line().as_deref(), Some(""));
        assert_eq!(run.pop_line().as_deref(), Some("ccc"));
        assert!(run.is_empty());
        assert_eq!(run.pop_line(), None);
    }

    #[test]
    fn the_front_is_whole_lines_within_the_bound_but_at_least_one() {
        let run = LineRun::of(["aaaa", "bb", "c"]);
        assert_eq!(run.front(100), (10, 3));
        assert_eq!(run.front(8), (8, 2));
        assert_eq!(run.front(7), (5, 1));
        // A first line longer than the bound still comes alone.
        assert_eq!(run.front(2), (5, 1));
    }

    #[test]
    fn split_takes_the_first_lines_and_leaves_the_rest() {
        let mut run = LineRun::of(["a", "b", "c", "d"]);
        run.pop_line();
        let head = run.split_to(2);
        assert_eq!(head, LineRun::of(["b", "c"]));
        assert_eq!(run.unread(), "d\n");
        assert_eq!(run.len(), 1);
        assert_eq!(run.split_to(5), LineRun::of(["d"]));
        assert!(run.is_empty());
        assert_eq!(run.split_to(1), LineRun::default());
    }

    #[test]
    fn tail_bytes_counts_whole_lines_from_the_end() {
        assert_eq!(tail_bytes("aa\nb\nccc\n", 0), 0);
        assert_eq!(tail_bytes("aa\nb\nccc\n", 1), 4);
        assert_eq!(tail_bytes("aa\nb\nccc\n", 2), 6);
        assert_eq!(tail_bytes("aa\nb\nccc\n", 3), 9);
        assert_eq!(tail_bytes("aa\nb\nccc\n", 9), 9);
        assert_eq!(tail_bytes("\n\n", 1), 1);
    }
}
