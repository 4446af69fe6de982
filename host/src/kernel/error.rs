use std::path::PathBuf;

use super::SubclusterId;
use crate::io::EndpointError;
use crate::runtime::RuntimeError;

/// Why a launch failed. Nothing of the subcluster remains when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// A path the config names cannot serve (checked before anything is created).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("vat `{vat}` (field `vats.{vat}.component`)")]
    Component {
        vat: String,
        #[source]
        source: RuntimeError,
    },
    #[error("channel `{channel}` (field `io.{channel}.path`): socket {} is already used by channel `{other_channel}` of subcluster {other} ({other_name})", path.display())]
    PathClaimed {
        channel: String,
        path: PathBuf,
        other: SubclusterId,
        other_name: String,
        other_channel: String,
    },
    #[error("channel `{channel}`")]
    Channel {
        channel: String,
        #[source]
        source: EndpointError,
    },
    #[error("vat `{vat}`")]
    Vat {
        vat: String,
        #[source]
        source: RuntimeError,
    },
    #[error("the host is shutting down")]
    ShuttingDown,
    #[error("cannot record the subcluster")]
    State(#[source] crate::state::StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl LaunchError {
    /// Whether the config is at fault (a component, a claimed path) rather
    /// than something met while creating the subcluster.
    pub fn is_config_error(&self) -> bool {
        matches!(
            self,
            Self::Config(_) | Self::Component { .. } | Self::PathClaimed { .. }
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("no subcluster {0}")]
    UnknownSubcluster(SubclusterId),
    #[error("the supervisor of a subcluster ended without reporting its outcome")]
    SupervisorLost,
    #[error("vat state")]
    State(#[from] crate::state::StoreError),
    #[error("subcluster {0} is not running")]
    NotRunning(SubclusterId),
    #[error("subcluster {id} has no vat `{vat}`")]
    UnknownVat { id: SubclusterId, vat: String },
    #[error("vat `{vat}`: the new component (nothing was changed)")]
    UpgradeComponent {
        vat: String,
        #[source]
        source: RuntimeError,
    },
    #[error("vat `{vat}` could not be upgraded: {reason}")]
    UpgradeFailed { vat: String, reason: String },
}
