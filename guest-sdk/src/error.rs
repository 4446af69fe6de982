use std::fmt;

use crate::bindings::vathost::vat::io_channel as wit;

/// Why a channel call failed. None of these ends the vat unless it chooses to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoError {
    /// `read` on a channel whose direction is `out`.
    NotReadable,
    /// `write` on a channel whose direction is `in`.
    NotWritable,
    /// The host closed the channel.
    Closed,
    /// `write` while no client is connected.
    NoClient,
    /// A received line that is not UTF-8, or a written line with a newline.
    InvalidData(String),
    /// A received line longer than this many bytes was skipped.
    TooLong(u32),
    /// A line call on a bytes channel, or a bytes call on a line channel.
    WrongUnit,
}

impl IoError {
    /// True when the error concerns one line only and the stream goes on.
    pub fn is_line_error(&self) -> bool {
        matches!(self, Self::InvalidData(_) | Self::TooLong(_))
    }
}

impl From<wit::IoError> for IoError {
    fn from(error: wit::IoError) -> Self {
        match error {
            wit::IoError::NotReadable => Self::NotReadable,
            wit::IoError::NotWritable => Self::NotWritable,
            wit::IoError::Closed => Self::Closed,
            wit::IoError::NoClient => Self::NoClient,
            wit::IoError::InvalidData(why) => Self::InvalidData(why),
            wit::IoError::TooLong(limit) => Self::TooLong(limit),
            wit::IoError::WrongUnit => Self::WrongUnit,
        }
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotReadable => f.write_str("channel is not readable"),
            Self::NotWritable => f.write_str("channel is not writable"),
            Self::Closed => f.write_str("channel is closed"),
            Self::NoClient => f.write_str("no client is connected"),
            Self::InvalidData(why) => write!(f, "invalid data: {why}"),
            Self::TooLong(limit) => write!(f, "line longer than {limit} bytes"),
            Self::WrongUnit => f.write_str("wrong unit for this channel (line or bytes)"),
        }
    }
}

impl std::error::Error for IoError {}

/// A vat's failure: what its entry point returns to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<IoError> for Error {
    fn from(error: IoError) -> Self {
        Self(error.to_string())
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self(message.to_owned())
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Self(format!("JSON: {error}"))
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Self(error.to_string())
    }
}
