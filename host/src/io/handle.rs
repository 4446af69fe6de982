//! `io-channel` as vats see it: a `channel` resource is a [`ChannelHandle`] in
//! the vat's resource table. A vat can only hold the handles the kernel pushed
//! into its own table at launch; an index it makes up is rejected by the
//! table and traps that vat alone.

use std::sync::Arc;

use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::p2::{DynPollable, Pollable};

use super::channel::{Channel, ChannelError};
use super::listen::Listener;
use super::spec::{Direction, Unit};
use crate::bindings::io_channel;
use crate::quiescence::Quiescence;

/// A vat's handle to one channel.
pub struct ChannelHandle {
    channel: Arc<Channel>,
}

impl ChannelHandle {
    pub fn new(channel: Arc<Channel>) -> Self {
        channel.held();
        Self { channel }
    }

    pub fn channel(&self) -> &Arc<Channel> {
        &self.channel
    }

    /// Another handle to the same channel, for a vat that receives it in a
    /// message: the channel counts it as held until it is dropped.
    pub fn share(&self) -> Self {
        Self::new(self.channel.clone())
    }
}

/// The channel learns when no vat holds it any more, whether the vat
/// dropped the handle or ended.
impl Drop for ChannelHandle {
    fn drop(&mut self) {
        self.channel.let_go();
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for ChannelHandle {
    async fn ready(&mut self) {
        self.channel.readable().await;
    }
}

/// A vat's handle to a listener.
pub struct ListenerHandle {
    listener: Arc<Listener>,
}

impl ListenerHandle {
    pub fn new(listener: Arc<Listener>) -> Self {
        Self { listener }
    }

    pub fn listener(&self) -> &Arc<Listener> {
        &self.listener
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for ListenerHandle {
    async fn ready(&mut self) {
        self.listener.ready().await;
    }
}

/// What a store must give for `io-channel` to be linked into it.
pub trait IoChannelView: Send {
    fn io_channel(&mut self) -> IoChannelCtx<'_>;
}

/// The [`HasData`] marker that links `io-channel` against a view.
pub struct IoChannels;

impl HasData for IoChannels {
    type Data<'a> = IoChannelCtx<'a>;
}

/// Borrowed view the generated bindings call into.
pub struct IoChannelCtx<'a> {
    table: &'a mut ResourceTable,
    /// The calling vat's: how it reads lines, what it is doing.
    marks: &'a Quiescence,
}

impl<'a> IoChannelCtx<'a> {
    pub fn new(table: &'a mut ResourceTable, marks: &'a Quiescence) -> Self {
        Self { table, marks }
    }

    fn channel(&self, handle: &Resource<ChannelHandle>) -> wasmtime::Result<Arc<Channel>> {
        Ok(self.table.get(handle)?.channel.clone())
    }
}

/// Before a read: with an upgrade waiting, the vat pauses here once,
/// having begun nothing (what it was handed is read for good), so a vat
/// whose input never runs dry is still replaced.
async fn pause_if_quieting(marks: &Quiescence, channel: &Channel) {
    if marks.quieting() {
        channel.back_for_input_now().await;
        tokio::task::yield_now().await;
    }
}

/// Adds `io-channel` to a linker whose store data is an [`IoChannelView`].
pub fn add_to_linker<T: IoChannelView + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
) -> wasmtime::Result<()> {
    io_channel::add_to_linker::<T, IoChannels>(linker, |state: &mut T| state.io_channel())
}

impl io_channel::Host for IoChannelCtx<'_> {}

impl io_channel::HostChannel for IoChannelCtx<'_> {
    async fn name(&mut self, handle: Resource<ChannelHandle>) -> wasmtime::Result<String> {
        Ok(self.channel(&handle)?.name().to_owned())
    }

    async fn direction(
        &mut self,
        handle: Resource<ChannelHandle>,
    ) -> wasmtime::Result<io_channel::Direction> {
        Ok(match self.channel(&handle)?.direction() {
            Direction::In => io_channel::Direction::In,
            Direction::Out => io_channel::Direction::Out,
            Direction::InOut => io_channel::Direction::Inout,
        })
    }

    async fn unit(
        &mut self,
        handle: Resource<ChannelHandle>,
    ) -> wasmtime::Result<io_channel::Unit> {
        Ok(match self.channel(&handle)?.unit() {
            Unit::Line => io_channel::Unit::Line,
            Unit::Bytes => io_channel::Unit::Bytes,
        })
    }

    async fn read(
        &mut self,
        handle: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<Option<String>, io_channel::IoError>> {
        let channel = self.channel(&handle)?;
        pause_if_quieting(self.marks, &channel).await;
        Ok(channel.read().await.map_err(Into::into))
    }

    async fn write(
        &mut self,
        handle: Resource<ChannelHandle>,
        line: String,
    ) -> wasmtime::Result<Result<(), io_channel::IoError>> {
        let channel = self.channel(&handle)?;
        Ok(channel.write(&line).await.map_err(Into::into))
    }

    async fn read_lines(
        &mut self,
        handle: Resource<ChannelHandle>,
        max: u32,
    ) -> wasmtime::Result<Result<Option<String>, io_channel::IoError>> {
        let channel = self.channel(&handle)?;
        pause_if_quieting(self.marks, &channel).await;
        Ok(channel
            .read_lines(max, self.marks)
            .await
            .map_err(Into::into))
    }

    async fn give_back(
        &mut self,
        handle: Resource<ChannelHandle>,
        count: u32,
    ) -> wasmtime::Result<Result<(), io_channel::IoError>> {
        let channel = self.channel(&handle)?;
        // Cut off while waiting for the queue, the lines would not go back.
        let _busy = self.marks.busy();
        Ok(channel.give_back(count).await.map_err(Into::into))
    }

    async fn write_lines(
        &mut self,
        handle: Resource<ChannelHandle>,
        lines: String,
    ) -> wasmtime::Result<Result<(), io_channel::IoError>> {
        let channel = self.channel(&handle)?;
        Ok(channel.write_lines(&lines).await.map_err(Into::into))
    }

    async fn write_then_read_lines(
        &mut self,
        handle: Resource<ChannelHandle>,
        lines: String,
        max: u32,
    ) -> wasmtime::Result<(
        Result<(), io_channel::IoError>,
        Result<Option<String>, io_channel::IoError>,
    )> {
        let channel = self.channel(&handle)?;
        let written = channel.write_lines(&lines).await.map_err(Into::into);
        pause_if_quieting(self.marks, &channel).await;
        let read = channel
            .read_lines(max, self.marks)
            .await
            .map_err(Into::into);
        Ok((written, read))
    }

    async fn read_bytes(
        &mut self,
        handle: Resource<ChannelHandle>,
        max: u32,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, io_channel::IoError>> {
        let channel = self.channel(&handle)?;
        pause_if_quieting(self.marks, &channel).await;
        Ok(channel.read_bytes(max).await.map_err(Into::into))
    }

    async fn write_bytes(
        &mut self,
        handle: Resource<ChannelHandle>,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<(), io_channel::IoError>> {
        let channel = self.channel(&handle)?;
        Ok(channel.write_bytes(&data).await.map_err(Into::into))
    }

    async fn subscribe(
        &mut self,
        handle: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        wasmtime_wasi::p2::subscribe(self.table, handle)
    }

    async fn drop(&mut self, handle: Resource<ChannelHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl io_channel::HostListener for IoChannelCtx<'_> {
    async fn name(&mut self, handle: Resource<ListenerHandle>) -> wasmtime::Result<String> {
        Ok(self.table.get(&handle)?.listener.name().to_owned())
    }

    async fn accept(
        &mut self,
        handle: Resource<ListenerHandle>,
    ) -> wasmtime::Result<Option<Resource<ChannelHandle>>> {
        let listener = self.table.get(&handle)?.listener.clone();
        match listener.accept().await {
            Some(channel) => Ok(Some(self.table.push(channel)?)),
            None => Ok(None),
        }
    }

    async fn subscribe(
        &mut self,
        handle: Resource<ListenerHandle>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        wasmtime_wasi::p2::subscribe(self.table, handle)
    }

    async fn drop(&mut self, handle: Resource<ListenerHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl From<ChannelError> for io_channel::IoError {
    fn from(error: ChannelError) -> Self {
        match error {
            ChannelError::NotReadable => Self::NotReadable,
            ChannelError::NotWritable => Self::NotWritable,
            ChannelError::Closed => Self::Closed,
            ChannelError::NoClient => Self::NoClient,
            ChannelError::InvalidData(why) => Self::InvalidData(why),
            ChannelError::TooLong(limit) => Self::TooLong(limit),
            ChannelError::WrongUnit => Self::WrongUnit,
        }
    }
}
