use clap::Parser;
use fluency::cli::{run, Cli};
use fluency::rules::memory::CountingAllocator;
use tracing_subscriber::EnvFilter;

// mimalloc returns freed memory to the system promptly (glibc's per-thread arenas held on
// to hundreds of megabytes under sustained ingest); the counting wrapper lets each rule run
// be held to `rules.sandbox.max_memory_bytes`.
#[global_allocator]
static ALLOCATOR: CountingAllocator<mimalloc::MiMalloc> = CountingAllocator(mimalloc::MiMalloc);

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = cli.settings()?;
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&settings.log).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let system = actix_web::rt::System::new();
    let result = system.block_on(run(cli, settings));
    // Not dropped: dropping the runtime waits for every blocking thread, and one may still
    // be running a rule (`Application::run_until_stopped` gave it its grace). Returning
    // from `main` ends the process, that thread included.
    std::mem::forget(system);
    result
}
