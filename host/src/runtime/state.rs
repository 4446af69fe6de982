use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::guest_output::{GuestOutput, OutputBudget, PanicNote};
use crate::config::VatLimits;
use crate::io::{IoChannelCtx, IoChannelView};
use crate::messaging::{Mailbox, MessagingCtx, MessagingView};
use crate::quiescence::Quiescence;
use crate::state::{VatStoreCtx, VatStoreView};

/// Store data of one vat.
pub struct VatState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// This vat's own mailbox: where `object` points and whose end decides
    /// the reason its unused resolvers give.
    mailbox: std::sync::Arc<Mailbox>,
    /// The panic line it wrote last, if any.
    pub(super) panics: PanicNote,
    /// This vat's durable state.
    vatstore: VatStoreCtx,
    pub(super) limits: super::limits::VatLimiter,
    /// How it reads lines, and whether it may be replaced now.
    marks: Quiescence,
}

impl VatState {
    /// A vat's WASI context grants no ambient authority: no preopened
    /// directories, no network, no environment, no arguments, empty stdin.
    /// Its stdout and stderr go to the host's log.
    pub(super) fn new(
        vat: &str,
        limits: &VatLimits,
        context: super::InstanceContext,
        marks: Quiescence,
    ) -> Self {
        let super::InstanceContext {
            subcluster,
            log,
            mailbox,
            store: vatstore,
            usage,
        } = context;
        let subcluster = subcluster.as_str();
        let log = &log;
        let budget = OutputBudget::new();
        let panics = PanicNote::default();
        let output = |stream, panics| {
            GuestOutput::new(subcluster, vat, stream, budget.clone(), log.clone(), panics)
        };
        let wasi = WasiCtx::builder()
            // The OS's generator at each call rather than a ChaCha generator
            // kept per vat (wasmtime-wasi's default): 330 bytes less per
            // idle vat; vats ask for secure randomness rarely (std seeds
            // its hash maps once). `getrandom` does not fail on Linux.
            .secure_random(rand::rand_core::UnwrapErr(rand::rngs::SysRng))
            .stdout(output("stdout", None))
            .stderr(output("stderr", Some(panics.clone())))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(usize::try_from(limits.handles).unwrap_or(usize::MAX));
        Self {
            wasi,
            table,
            mailbox,
            panics,
            limits: super::limits::VatLimiter::new(limits, usage),
            vatstore: vatstore.marked(marks.clone()),
            marks,
        }
    }

    pub(super) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    pub(super) fn mailbox(&self) -> &std::sync::Arc<Mailbox> {
        &self.mailbox
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
    fn io_channel(&mut self) -> IoChannelCtx<'_> {
        IoChannelCtx::new(&mut self.table, &self.marks)
    }
}

impl MessagingView for VatState {
    fn messaging(&mut self) -> MessagingCtx<'_> {
        MessagingCtx::new(&mut self.table, &self.mailbox)
    }
}

impl VatStoreView for VatState {
    fn vatstore(&mut self) -> &mut VatStoreCtx {
        &mut self.vatstore
    }
}
