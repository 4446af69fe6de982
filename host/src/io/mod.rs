//! The host side of `io-channel`: channels, their framing, and one module per
//! transport. Vats reach a channel only through a [`ChannelHandle`] the kernel
//! put in their resource table.

mod channel;
mod framing;
mod handle;
mod socket;

pub use channel::{Channel, ChannelError, ChannelStats};
pub use framing::{Frame, LineFramer};
pub use handle::{ChannelHandle, IoChannelView, add_to_linker};
pub use socket::{SocketChannel, SocketError, SocketFile};
