//! The host side of `io-channel`: channels, their framing, and one module per
//! transport. Vats reach a channel only through a handle the kernel put in
//! their resource table (or one `listener.accept` put there).

mod channel;
mod endpoint;
mod framing;
mod handle;
mod listen;
mod nats;
mod peer_socket;
mod session;
mod socket;
mod spec;
mod stream;

pub use channel::{Channel, ChannelError, ChannelStats, LinkState};
pub use endpoint::{Endpoint, EndpointError, Grant};
pub use framing::{Frame, LineFramer, OwnedFrame};
pub use handle::{ChannelHandle, IoChannelCtx, IoChannelView, ListenerHandle, add_to_linker};
pub use listen::{ListenChannel, Listener};
pub use nats::{NatsChannel, NatsError};
pub use peer_socket::{PeerReader, PeerWriter, split as split_peer};
pub use socket::{SocketChannel, SocketError, SocketFile};
pub use spec::{
    ChannelKind, ChannelSpec, ConnectSpec, Direction, FileSpec, JetStreamSpec, ListenSpec,
    MAX_SOCKET_PATH, NatsAuth, NatsSpec, SocketSpec, Unit,
};
pub use stream::{StreamChannel, StreamError};
