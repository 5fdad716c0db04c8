//! Memory accounting for rule runs: `CountingAllocator` wraps the process's global
//! allocator and keeps, per thread, the bytes allocated minus the bytes freed. A run reads
//! that balance when it starts (`RunBudget::start`) and the engine's progress callback and
//! every host function compare the growth with `max_memory_bytes`. Installed by `main.rs`
//! (around mimalloc) and by the test binaries that probe the sandbox.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// Bytes allocated minus bytes freed on this thread since it started. A const
    /// initialiser without a destructor: safe to touch from inside the allocator.
    static BALANCE: Cell<isize> = const { Cell::new(0) };
    /// The balance at which the current run exceeds its memory limit (`None`: no run).
    static CEILING: Cell<Option<isize>> = const { Cell::new(None) };
}

/// Set by the first allocation through a `CountingAllocator`: without one the balance
/// never moves and the memory limit cannot be enforced.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A global allocator that counts, per thread, what it hands out and takes back.
pub struct CountingAllocator<A>(pub A);

fn account(bytes: isize) {
    // `try_with`: during thread teardown the slot may be gone; then nothing is counted.
    let _ = BALANCE.try_with(|balance| balance.set(balance.get().wrapping_add(bytes)));
}

// SAFETY: every call is forwarded unchanged to the wrapped allocator; the accounting only
// touches a thread-local `Cell`, which neither allocates nor unwinds.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAllocator<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !INSTALLED.load(Ordering::Relaxed) {
            INSTALLED.store(true, Ordering::Relaxed);
        }
        let pointer = self.0.alloc(layout);
        if !pointer.is_null() {
            account(layout.size() as isize);
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !INSTALLED.load(Ordering::Relaxed) {
            INSTALLED.store(true, Ordering::Relaxed);
        }
        let pointer = self.0.alloc_zeroed(layout);
        if !pointer.is_null() {
            account(layout.size() as isize);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        self.0.dealloc(pointer, layout);
        account(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = self.0.realloc(pointer, layout, new_size);
        if !moved.is_null() {
            account(new_size as isize - layout.size() as isize);
        }
        moved
    }
}

/// True when a `CountingAllocator` is the global allocator (so `max_memory_bytes` holds).
pub fn accounting_installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// This thread's allocation balance, in bytes.
fn balance() -> isize {
    BALANCE.with(Cell::get)
}

/// A run's memory limit on this thread, from `start` until it is dropped.
pub(crate) struct RunBudget {
    start: isize,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl RunBudget {
    pub fn start(max_bytes: usize) -> Self {
        let start = balance();
        CEILING.with(|c| c.set(Some(start.saturating_add(max_bytes.min(isize::MAX as usize) as isize))));
        Self { start, _not_send: std::marker::PhantomData }
    }

    /// Bytes the run holds now beyond what the thread held when it started.
    pub fn used(&self) -> usize {
        balance().saturating_sub(self.start).max(0) as usize
    }
}

impl Drop for RunBudget {
    fn drop(&mut self) {
        CEILING.with(|c| c.set(None));
    }
}

/// True when the run on this thread holds more than its memory limit.
pub(crate) fn over_budget() -> bool {
    CEILING.with(Cell::get).is_some_and(|ceiling| balance() > ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_sees_what_it_allocates_and_frees_on_its_own_thread() {
        assert!(accounting_installed(), "the test binary installs the counting allocator");
        let budget = RunBudget::start(1 << 20);

        let small = vec![0u8; 1000];
        assert!(!over_budget());
        let big = vec![1u8; 2 << 20];
        let used = budget.used();

        assert!(used >= (2 << 20) + 1000, "{used}");
        assert!(over_budget());
        drop(big);
        assert!(!over_budget(), "freed memory no longer counts");
        drop(small);
        drop(budget);
        let _elsewhere = vec![0u8; 4 << 20];
        assert!(!over_budget(), "outside a run nothing is over budget");
    }
}
