use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong with a config, located by its field path (`vats.aux.io[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "`{}`: {}", self.field, self.message)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The JSON is malformed or does not have the config's shape.
    #[error("{}: {problem}", file_prefix(file.as_deref()))]
    Parse {
        file: Option<PathBuf>,
        problem: Problem,
    },
    /// The config is well-formed but asks for something invalid.
    #[error("{}{}", file_prefix(file.as_deref()), list(problems))]
    Invalid {
        file: Option<PathBuf>,
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    pub(crate) fn in_file(self, path: &Path) -> Self {
        match self {
            Self::Parse { problem, .. } => Self::Parse {
                file: Some(path.to_path_buf()),
                problem,
            },
            Self::Invalid { problems, .. } => Self::Invalid {
                file: Some(path.to_path_buf()),
                problems,
            },
            read @ Self::Read { .. } => read,
        }
    }

    /// Every problem this error reports, for callers that present them one by one.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            Self::Read { source, .. } => vec![Problem::new("", source.to_string())],
            Self::Parse { problem, .. } => vec![problem.clone()],
            Self::Invalid { problems, .. } => problems.clone(),
        }
    }
}

fn file_prefix(file: Option<&Path>) -> String {
    file.map(|path| format!("invalid config {}", path.display()))
        .unwrap_or_else(|| "invalid config".to_owned())
}

fn list(problems: &[Problem]) -> String {
    match problems {
        [one] => format!(": {one}"),
        many => std::iter::once(":".to_owned())
            .chain(many.iter().map(|problem| format!("\n  - {problem}")))
            .collect(),
    }
}
