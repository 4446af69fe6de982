//! Enforcing a vat's limits: memory and tables through the store limiter,
//! CPU through a meter of the time the vat spends running wasm.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasmtime::{CallHook, ResourceLimiter, Store, UpdateDeadline};

use super::{VatState, VatUsage};
use crate::config::VatLimits;

/// Core instances, tables and memories a component may create: a Rust vat
/// needs a handful of each; the caps only stop a pathological component.
const MAX_INSTANCES: usize = 100;
const MAX_TABLES: usize = 100;
const MAX_MEMORIES: usize = 10;

/// The trap a vat gets when it has used up its CPU budget.
#[derive(Debug, thiserror::Error)]
#[error("CPU budget of {} ms exceeded", budget.as_millis())]
pub struct CpuBudgetExceeded {
    pub budget: Duration,
}

/// Caps what a vat's wasm can grow: its memories together and its tables
/// together (not each one: a component of ten memories gets no more than a
/// component of one), and how many instances, tables and memories it has.
pub(super) struct VatLimiter {
    memory_limit: usize,
    memory_used: usize,
    table_limit: usize,
    table_used: usize,
    /// Where the memory in use is published.
    usage: Arc<VatUsage>,
}

impl VatLimiter {
    pub(super) fn new(limits: &VatLimits, usage: Arc<VatUsage>) -> Self {
        usage.set_memory(0);
        Self {
            memory_limit: usize::try_from(limits.memory).unwrap_or(usize::MAX),
            memory_used: 0,
            table_limit: usize::try_from(limits.table_elements).unwrap_or(usize::MAX),
            table_used: 0,
            usage,
        }
    }
}

impl ResourceLimiter for VatLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grown = grow(&mut self.memory_used, self.memory_limit, current, desired);
        self.usage.set_memory(self.memory_used);
        Ok(grown)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(grow(
            &mut self.table_used,
            self.table_limit,
            current,
            desired,
        ))
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

/// Counts one memory's or table's growth from `current` to `desired`
/// against a total shared by all of them; false (and nothing counted) if
/// it would pass `limit`.
fn grow(used: &mut usize, limit: usize, current: usize, desired: usize) -> bool {
    let total = used.saturating_add(desired.saturating_sub(current));
    if total > limit {
        return false;
    }
    *used = total;
    true
}

/// Makes running wasm yield to the executor at every epoch tick (marking
/// the vat's `activity` as yielding meanwhile), and with a CPU budget,
/// traps the vat once its time in wasm exceeds the budget.
pub(super) fn enforce_cpu(
    store: &mut Store<VatState>,
    budget: Option<Duration>,
    activity: Arc<super::VatActivity>,
) {
    let meter = budget.map(|budget| (budget, CpuMeter::default()));
    // Only a budget needs to see every move between wasm and the host: a
    // call hook puts each host call on wasmtime's slow path.
    if let Some((_, meter)) = &meter {
        let meter = meter.clone();
        store.call_hook(move |_, hook| {
            match hook {
                CallHook::CallingWasm | CallHook::ReturningFromHost => meter.start(),
                CallHook::CallingHost | CallHook::ReturningFromWasm => meter.stop(),
            }
            Ok(())
        });
    }
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if let Some((budget, meter)) = &meter
            && meter.used() > *budget
        {
            return Err(wasmtime::Error::new(CpuBudgetExceeded { budget: *budget }));
        }
        let meter = meter.as_ref().map(|(_, meter)| meter.clone());
        let activity = activity.clone();
        // Time spent yielded, while other tasks run, is not this vat's.
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(async move {
                if let Some(meter) = &meter {
                    meter.stop();
                }
                activity.set_yielding(true);
                tokio::task::yield_now().await;
                activity.set_yielding(false);
                if let Some(meter) = &meter {
                    meter.start();
                }
            }),
        ))
    });
}

/// Time spent running wasm: started when control enters wasm, stopped when
/// it leaves for the host or yields.
#[derive(Clone, Default)]
struct CpuMeter(Arc<Mutex<Meter>>);

#[derive(Default)]
struct Meter {
    used: Duration,
    running_since: Option<Instant>,
}

impl CpuMeter {
    fn meter(&self) -> std::sync::MutexGuard<'_, Meter> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn start(&self) {
        self.meter().running_since = Some(Instant::now());
    }

    fn stop(&self) {
        let mut meter = self.meter();
        if let Some(since) = meter.running_since.take() {
            meter.used += since.elapsed();
        }
    }

    fn used(&self) -> Duration {
        let meter = self.meter();
        meter.used
            + meter
                .running_since
                .map_or(Duration::ZERO, |since| since.elapsed())
    }
}
