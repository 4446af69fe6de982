use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::guest_output::GuestOutput;
use crate::io::IoChannelView;

/// Store data of one vat.
pub struct VatState {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl VatState {
    /// A vat's WASI context grants no ambient authority: no preopened
    /// directories, no network, no environment, no arguments, empty stdin.
    /// Its stdout and stderr go to the host's log.
    pub(super) fn new(subcluster: &str, vat: &str) -> Self {
        let wasi = WasiCtx::builder()
            .stdout(GuestOutput::new(subcluster, vat, "stdout"))
            .stderr(GuestOutput::new(subcluster, vat, "stderr"))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
        }
    }

    pub(super) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiView for VatState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl IoChannelView for VatState {
    fn io_channel_table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}
