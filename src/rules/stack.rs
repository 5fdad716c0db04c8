//! The thread rule runs happen on. Rhai frees nested values (closures capturing closures,
//! a chain a script can build one level per few operations) recursively, and so would
//! any walk over them: the default 2 MiB of a worker thread overflows at a few tens of
//! thousands of levels, which aborts the process. Runs therefore happen on a thread whose
//! stack holds the deepest nesting `max_operations` allows (`MAX_OPERATIONS`, checked in
//! `SandboxSettings::check`). The stack is reserved, not used: only the pages a run
//! touches become memory. Used by the rules runner, the scheduler and dry runs.

/// Stack of the thread rules run on.
pub const RULES_STACK_BYTES: usize = 512 * 1024 * 1024;

/// Most operations a run may be allowed: a level of nesting takes at least two, and one
/// level of a recursive free takes at most a few hundred bytes of stack (about 200 in an
/// optimised build), so the stack holds what this many operations can build.
pub const MAX_OPERATIONS: u64 = 2_000_000;

/// Runs `work` on a thread with `RULES_STACK_BYTES` of stack and waits for it. If no such
/// thread can be made, `work` runs on the calling thread (logged): availability first.
pub fn on_rules_stack<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    let mut work = Some(work);
    let outcome = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("fluency-rules".into())
            .stack_size(RULES_STACK_BYTES)
            .spawn_scoped(scope, || work.take().map(|work| work()));
        match spawned {
            Ok(thread) => Some(thread.join()),
            Err(error) => {
                tracing::error!(error = %error, "Could not start a rules thread; running rules on this one.");
                None
            }
        }
    });
    match outcome {
        Some(Ok(Some(result))) => result,
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        _ => (work.take().expect("the work did not run"))(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_on_the_big_stack_and_its_panics_reach_the_caller() {
        let name = on_rules_stack(|| std::thread::current().name().map(str::to_string));
        let panicked = std::panic::catch_unwind(|| on_rules_stack(|| panic!("inside")));

        assert_eq!(name.as_deref(), Some("fluency-rules"));
        assert!(panicked.is_err());
    }
}
