//! Running policy.wasm: the wasmtime side of the host.
//!
//! What is built once and what is built per evaluation follows wasmtime's
//! `examples/fast_instantiation.rs` and Kubewarden's policy-server (SPEC §6):
//!
//! * once per [`Policy`]: the [`Engine`] (epoch interruption on), the compiled
//!   [`Module`], the [`Linker`] with WASI preview 1 and the waPC imports, and
//!   the [`InstancePre`] that has resolved every import;
//! * per [`Instance`]: a fresh [`Store`] with a memory cap, a WASI context with
//!   no arguments, environment or directories, whose stdout and stderr both go
//!   to the host's stderr (stdout carries only imagegate's own answer), and an
//!   epoch deadline set before every guest entry.
//!
//! A background thread advances the engine's epoch every [`TICK`]; the deadline
//! is the time limit in ticks, counted in the guest's own time: time spent in
//! host calls (registry lookups) is given back (see `GuestClock`). Traps
//! become [`GuestError`]s worded for people:
//! "policy exceeded its time limit of 2s", "policy ran out of memory (limit
//! 64 MiB)", "policy trapped in validate: ...".

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasmtime::UpdateDeadline;
use wasmtime::{
    Config, Engine, ExternType, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, ResourceLimiter, Store, Trap, TypedFunc, ValType,
};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::{self, WasiP1Ctx};

use crate::capabilities::{CapabilityProvider, HostCapabilities, LogSink};
use crate::module_cache::{ModuleCache, Origin};
use crate::wapc::{self, WapcState, WapcView};

/// How often the epoch advances; the time limit is rounded up to it.
pub const TICK: Duration = Duration::from_millis(10);

/// Default cap on the guest's linear memory.
pub const DEFAULT_MEMORY_LIMIT_MIB: u64 = 64;

/// Default time limit of one guest entry (`wapc_init`, or one call).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Table elements a guest may grow its tables to (Rust modules use a few hundred).
const TABLE_ELEMENTS_LIMIT: usize = 100_000;

/// Default of [`RuntimeOptions::max_instances`].
pub const DEFAULT_MAX_INSTANCES: u32 = 8;

/// Bytes of linear memory a pool slot keeps resident between instances.
const KEEP_RESIDENT: u64 = 16 * 1024 * 1024;

/// The first four bytes of every WebAssembly binary.
pub const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// Limits and wiring for the policy's instances.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeOptions {
    /// Cap on the guest's linear memory, in bytes.
    pub memory_limit: u64,
    /// Time limit of each guest entry.
    pub timeout: Duration,
    /// Refuse host capabilities that would reach the network.
    pub offline: bool,
    /// Where the guest's output and log lines go.
    pub guest_output: LogSink,
    /// Instances of the policy that may be alive at once (the pooling
    /// allocator's slots; each reserves address space, and making the pool
    /// costs a little per slot, so one-shot commands ask for few).
    pub max_instances: u32,
    /// Load and store compiled modules in the user's cache
    /// ([`ModuleCache::from_env`]); off for modules compiled once and
    /// thrown away (tests, `annotate`).
    pub module_cache: bool,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            memory_limit: DEFAULT_MEMORY_LIMIT_MIB * 1024 * 1024,
            timeout: DEFAULT_TIMEOUT,
            offline: false,
            guest_output: LogSink::Stderr,
            max_instances: DEFAULT_MAX_INSTANCES,
            module_cache: false,
        }
    }
}

/// The policy module could not be loaded. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read policy \"{path}\": {source}")]
    Read {
        /// The policy file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not start with `\0asm`.
    #[error(
        "policy \"{path}\" is not a WebAssembly module (it does not start with the \\0asm magic bytes)"
    )]
    NotWasm {
        /// The policy file.
        path: PathBuf,
    },
    /// wasmtime could not compile it.
    #[error("policy \"{path}\" cannot be compiled: {message}")]
    Compile {
        /// The policy file.
        path: PathBuf,
        /// wasmtime's reason.
        message: String,
    },
    /// A required waPC export is missing or has the wrong type.
    #[error("policy \"{path}\" is not a waPC module: {problem}")]
    NotWapc {
        /// The policy file.
        path: PathBuf,
        /// What is missing.
        problem: String,
    },
    /// An import could not be resolved.
    #[error("policy \"{path}\" cannot be linked: {message}")]
    Link {
        /// The policy file.
        path: PathBuf,
        /// wasmtime's reason, naming the import.
        message: String,
    },
    /// The engine could not be set up.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
}

/// A guest call (or the instantiation before it) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestError {
    /// The epoch deadline passed.
    #[error("policy exceeded its time limit of {} (in {during})", format_duration(*.limit))]
    Timeout {
        /// The time limit.
        limit: Duration,
        /// What was running.
        during: String,
    },
    /// The guest tried to grow its memory past the cap.
    #[error("policy ran out of memory (limit {} MiB) in {during}", .limit / (1024 * 1024))]
    OutOfMemory {
        /// The cap, in bytes.
        limit: u64,
        /// What was running.
        during: String,
    },
    /// Any other trap, including a bad pointer handed to a waPC import.
    #[error("policy trapped in {during}: {message}")]
    Trap {
        /// What was running.
        during: String,
        /// The trap, as wasmtime words it.
        message: String,
    },
    /// The guest called WASI `proc_exit`.
    #[error("policy exited with status {status} in {during}")]
    Exited {
        /// The exit status.
        status: i32,
        /// What was running.
        during: String,
    },
    /// The module could not be instantiated.
    #[error("cannot instantiate policy: {0}")]
    Instantiate(String),
    /// The guest returned 0 from `__guest_call` (wapc's `GuestCallFailure`).
    #[error("guest call failure: {0}")]
    CallFailed(String),
    /// The guest returned success without calling `__guest_response`.
    #[error("policy returned success from {0} without a response")]
    NoResponse(String),
    /// The guest's reply is not what the operation expects.
    #[error("policy's reply to {operation} is not valid: {message}")]
    InvalidReply {
        /// The operation.
        operation: String,
        /// What is wrong with it.
        message: String,
    },
    /// The operation or payload is larger than a wasm32 length can say.
    #[error("the {what} of {len} bytes is too large for the policy")]
    TooLarge {
        /// Operation or payload.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// A previous call on this instance trapped; its state can't be trusted.
    #[error("the policy instance is unusable after an earlier failure: {0}")]
    Broken(String),
}

/// `2s`, `1500ms`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The guest's memory cap, recording whether the guest hit it.
struct MemoryLimiter {
    limit: u64,
    exceeded: bool,
}

/// The error a refused `memory.grow` traps with.
#[derive(Debug, thiserror::Error)]
#[error("memory growth to {desired} bytes refused: the limit is {limit} bytes")]
struct MemoryLimitExceeded {
    desired: usize,
    limit: u64,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if u64::try_from(desired).map_or(true, |d| d > self.limit) {
            // An error (not `Ok(false)`) traps at once, so the guest's
            // allocator can't turn it into an unrelated abort, and we can
            // name the cause.
            self.exceeded = true;
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                desired,
                limit: self.limit,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= TABLE_ELEMENTS_LIMIT)
    }
}

/// The guest's own running time in one entry: wall time since the entry
/// began, less the time spent in host calls.
///
/// The epoch ticker counts wall time, so a guest that waits on a registry
/// lookup (`__host_call`, up to `--lookup-timeout-ms`) would otherwise find
/// its deadline long past when the host returns, and be killed for time the
/// host spent. Instead the deadline is only a prompt: when it is reached,
/// [`GuestClock::on_deadline`] compares the guest's own time with the limit
/// and either interrupts (the guest used it all) or sets the deadline again
/// for what is left. So `--timeout-ms` bounds the policy's computation, and
/// each lookup is bounded by its own limit; a request makes at most one
/// lookup per distinct image.
#[derive(Debug, Clone, Copy)]
struct GuestClock {
    limit: Duration,
    started: Instant,
    in_host: Duration,
}

impl GuestClock {
    fn new(limit: Duration) -> GuestClock {
        GuestClock {
            limit,
            started: Instant::now(),
            in_host: Duration::ZERO,
        }
    }

    /// Starts counting a new guest entry.
    fn restart(&mut self) {
        self.started = Instant::now();
        self.in_host = Duration::ZERO;
    }

    /// The guest's own time in this entry.
    fn guest_time(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.in_host)
    }

    /// What to do when the epoch deadline is reached.
    fn on_deadline(&self) -> UpdateDeadline {
        match self.limit.checked_sub(self.guest_time()) {
            Some(left) if !left.is_zero() => UpdateDeadline::Continue(deadline_ticks(left)),
            _ => UpdateDeadline::Interrupt,
        }
    }
}

/// The data of each [`Store`].
struct HostState {
    wasi: WasiP1Ctx,
    wapc: WapcState,
    limiter: MemoryLimiter,
    capabilities: Arc<HostCapabilities>,
    clock: GuestClock,
}

impl WapcView for HostState {
    fn wapc(&mut self) -> &mut WapcState {
        &mut self.wapc
    }

    fn host_call(
        &mut self,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, String> {
        let start = Instant::now();
        let answer = self
            .capabilities
            .call(binding, namespace, operation, payload);
        self.clock.in_host += start.elapsed();
        answer
    }

    fn console_log(&mut self, message: &str) {
        self.capabilities.log_sink().write(message.as_bytes());
    }
}

/// Advances the engine's epoch every [`TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> Result<EpochTicker, LoadError> {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.clone();
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("imagegate-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::park_timeout(TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| LoadError::Engine(format!("cannot start the epoch thread: {e}")))?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// A compiled policy module, ready to be instantiated many times.
pub struct Policy {
    engine: Engine,
    pre: InstancePre<HostState>,
    origin: Origin,
    options: RuntimeOptions,
    capabilities: Arc<HostCapabilities>,
    deadline_ticks: u64,
    _ticker: EpochTicker,
}

impl Policy {
    /// Reads and compiles `path`.
    pub fn load(path: &Path, options: RuntimeOptions) -> Result<Policy, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        Policy::from_bytes(path, &bytes, options)
    }

    /// Compiles `bytes`; `path` is only used in messages.
    pub fn from_bytes(
        path: &Path,
        bytes: &[u8],
        options: RuntimeOptions,
    ) -> Result<Policy, LoadError> {
        if !bytes.starts_with(WASM_MAGIC) {
            return Err(LoadError::NotWasm {
                path: path.to_owned(),
            });
        }
        let engine = new_engine(&options)?;
        let compile = || Module::new(&engine, bytes);
        let compiled = match options.module_cache.then(ModuleCache::from_env).flatten() {
            Some(cache) => cache.load_or_compile(&engine, bytes, compile),
            None => compile().map(|module| (module, Origin::Compiled)),
        };
        let (module, origin) = compiled.map_err(|e| LoadError::Compile {
            path: path.to_owned(),
            message: format!("{e:#}"),
        })?;
        check_wapc_exports(&module).map_err(|problem| LoadError::NotWapc {
            path: path.to_owned(),
            problem,
        })?;

        let mut linker: Linker<HostState> = Linker::new(&engine);
        p1::add_to_linker_sync(&mut linker, |state: &mut HostState| &mut state.wasi)
            .and_then(|_| wapc::add_to_linker(&mut linker))
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| LoadError::Link {
                path: path.to_owned(),
                message: format!("{e:#}"),
            })?;

        let ticker = EpochTicker::start(&engine)?;
        let capabilities = Arc::new(HostCapabilities::unavailable(
            options.offline,
            options.guest_output,
        ));
        Ok(Policy {
            engine,
            pre,
            origin,
            options,
            capabilities,
            deadline_ticks: deadline_ticks(options.timeout),
            _ticker: ticker,
        })
    }

    /// Whether the machine code came from the module cache or was compiled.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Answers the policy's host capabilities (other than logging) through
    /// `provider` from now on, instead of refusing them. Instances made
    /// before keep the provider they had.
    pub fn set_provider(&mut self, provider: Box<dyn CapabilityProvider>) {
        self.capabilities = Arc::new(HostCapabilities::new(provider, self.options.guest_output));
    }

    /// A fresh instance: new store, `_start` and `wapc_init` already run.
    pub fn instantiate(&self) -> Result<Instance, GuestError> {
        let mut wasi = WasiCtxBuilder::new();
        match self.options.guest_output {
            LogSink::Stderr => wasi.stdout(std::io::stderr()).stderr(std::io::stderr()),
            LogSink::Discard => wasi.stdout(std::io::empty()).stderr(std::io::empty()),
        };
        let state = HostState {
            wasi: wasi.build_p1(),
            wapc: WapcState::default(),
            limiter: MemoryLimiter {
                limit: self.options.memory_limit,
                exceeded: false,
            },
            capabilities: Arc::clone(&self.capabilities),
            clock: GuestClock::new(self.options.timeout),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(|store| Ok(store.data().clock.on_deadline()));
        store.set_epoch_deadline(self.deadline_ticks);

        let failure = |store: &Store<HostState>, error: wasmtime::Error, during: &str| {
            classify(store, &self.options, error, during)
        };

        let instance = match self.pre.instantiate(&mut store) {
            Ok(instance) => instance,
            Err(error) => {
                return Err(match failure(&store, error, "instantiation") {
                    GuestError::Trap { message, .. } => GuestError::Instantiate(message),
                    other => other,
                });
            }
        };

        // Order matters (wapc-rs `REQUIRED_STARTS`): `_start`, then `wapc_init`.
        for name in ["_start", "wapc_init"] {
            let Some(func) = instance.get_func(&mut store, name) else {
                continue;
            };
            let func = func
                .typed::<(), ()>(&store)
                .map_err(|e| GuestError::Instantiate(format!("export {name}: {e:#}")))?;
            store.data_mut().clock.restart();
            store.set_epoch_deadline(self.deadline_ticks);
            if let Err(error) = func.call(&mut store, ()) {
                // A WASI `proc_exit(0)` from `_start` is a normal end (TinyGo
                // does this); wapc-rs `provider.rs` `initialize` ignores it too.
                if name == "_start" && error.downcast_ref::<I32Exit>().is_some_and(|e| e.0 == 0) {
                    continue;
                }
                return Err(failure(&store, error, name));
            }
        }

        let guest_call = instance
            .get_typed_func::<(i32, i32), i32>(&mut store, "__guest_call")
            .map_err(|e| GuestError::Instantiate(format!("export __guest_call: {e:#}")))?;
        Ok(Instance {
            store,
            guest_call,
            options: self.options,
            deadline_ticks: self.deadline_ticks,
            broken: None,
        })
    }

    /// One call in a fresh instance, as Kubewarden's policy-server does it.
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, GuestError> {
        self.instantiate()?.call(operation, payload)
    }

    /// `validate` in a fresh instance; `payload` is `{"request":…,"settings":…}`.
    pub fn validate(&self, payload: &[u8]) -> Result<Vec<u8>, GuestError> {
        self.call("validate", payload)
    }

    /// `validate_settings` in a fresh instance; `payload` is the settings object.
    pub fn validate_settings(&self, payload: &[u8]) -> Result<Vec<u8>, GuestError> {
        self.call("validate_settings", payload)
    }

    /// `protocol_version` in a fresh instance: `"v1"` for a waPC policy.
    pub fn protocol_version(&self) -> Result<String, GuestError> {
        self.instantiate()?.protocol_version()
    }
}

/// One instance of the policy, reusable for many calls (as `kwctl bench`
/// does), until a call traps.
pub struct Instance {
    store: Store<HostState>,
    guest_call: TypedFunc<(i32, i32), i32>,
    options: RuntimeOptions,
    deadline_ticks: u64,
    broken: Option<GuestError>,
}

impl Instance {
    /// Calls the waPC operation `operation` with `payload`.
    pub fn call(&mut self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, GuestError> {
        if let Some(earlier) = &self.broken {
            return Err(GuestError::Broken(earlier.to_string()));
        }
        let op_len = wasm_len("operation", operation.len())?;
        let msg_len = wasm_len("payload", payload.len())?;

        self.store.data_mut().wapc.begin(operation, payload);
        self.store.data_mut().clock.restart();
        self.store.set_epoch_deadline(self.deadline_ticks);
        let result = self.guest_call.call(&mut self.store, (op_len, msg_len));
        let answer = self.store.data_mut().wapc.finish();
        match result {
            Err(error) => {
                let error = classify(&self.store, &self.options, error, operation);
                self.broken = Some(error.clone());
                Err(error)
            }
            Ok(0) => Err(GuestError::CallFailed(answer.error.unwrap_or_else(|| {
                format!("{operation} failed without calling __guest_error")
            }))),
            Ok(_) => answer
                .response
                .ok_or_else(|| GuestError::NoResponse(operation.to_owned())),
        }
    }

    /// `validate`.
    pub fn validate(&mut self, payload: &[u8]) -> Result<Vec<u8>, GuestError> {
        self.call("validate", payload)
    }

    /// `validate_settings`.
    pub fn validate_settings(&mut self, payload: &[u8]) -> Result<Vec<u8>, GuestError> {
        self.call("validate_settings", payload)
    }

    /// `protocol_version` (empty payload), decoded from its JSON string.
    pub fn protocol_version(&mut self) -> Result<String, GuestError> {
        let reply = self.call("protocol_version", &[])?;
        serde_json::from_slice::<String>(&reply).map_err(|e| GuestError::InvalidReply {
            operation: "protocol_version".into(),
            message: format!("expected a JSON string such as \"v1\": {e}"),
        })
    }
}

/// The engine every policy runs on: epoch interruption for deadlines, and
/// wasmtime's pooling allocator, so a fresh instance (one per request, as
/// policy-server does it) reuses a warm slot of memory whose initial image is
/// mapped copy-on-write instead of mapping and initialising memory anew.
/// Falls back to on-demand allocation where the pool's address-space
/// reservation is refused (a tight `ulimit -v`).
fn new_engine(options: &RuntimeOptions) -> Result<Engine, LoadError> {
    let slots = options.max_instances.max(1);
    let mut config = Config::new();
    config.epoch_interruption(true);
    // For profiling only: `perf record` then names guest functions from
    // /tmp/perf-PID.map (with IMAGEGATE_MODULE_CACHE=off and a module that
    // keeps its names: README "Development").
    if std::env::var_os("IMAGEGATE_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(slots)
        .total_memories(slots)
        .total_tables(slots)
        // Stacks are for async calls, which imagegate does not make; the
        // default (1,000) would cost a guard-page mprotect each at start.
        .total_stacks(1)
        .max_memories_per_module(1)
        .max_tables_per_module(1)
        .table_elements(TABLE_ELEMENTS_LIMIT);
    // No `max_memory_size` below the default: modules are checked against it
    // when they are compiled, and the memory cap belongs to the store's
    // limiter, which names the cause ("ran out of memory (limit 64 MiB)").
    // Reuse is the point of the pool: a slot keeps up to this much of its
    // memory resident, and Linux's PAGEMAP_SCAN (6.7+, used where present)
    // finds the pages the last instance wrote so only those are reset. A
    // fresh instance then starts without page faults (35 vs 51 us per fresh
    // validate in one run, BENCHMARKS.md).
    let keep_resident = usize::try_from(options.memory_limit.min(KEEP_RESIDENT)).unwrap_or(0);
    pool.linear_memory_keep_resident(keep_resident)
        .table_keep_resident(keep_resident)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut pooled = config.clone();
    pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&pooled)
        .or_else(|_| Engine::new(&config))
        .map_err(|e| LoadError::Engine(format!("{e:#}")))
}

fn wasm_len(what: &'static str, len: usize) -> Result<i32, GuestError> {
    i32::try_from(len).map_err(|_| GuestError::TooLarge { what, len })
}

/// Ticks until the deadline: the limit rounded up, plus one because the
/// current tick may end at any moment.
fn deadline_ticks(timeout: Duration) -> u64 {
    let tick = TICK.as_nanos().max(1);
    let ticks = timeout.as_nanos().div_ceil(tick);
    u64::try_from(ticks)
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

/// Words a wasmtime error from a guest entry.
fn classify(
    store: &Store<HostState>,
    options: &RuntimeOptions,
    error: wasmtime::Error,
    during: &str,
) -> GuestError {
    let during = during.to_owned();
    if store.data().limiter.exceeded {
        return GuestError::OutOfMemory {
            limit: options.memory_limit,
            during,
        };
    }
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return GuestError::Timeout {
            limit: options.timeout,
            during,
        };
    }
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return GuestError::Exited {
            status: exit.0,
            during,
        };
    }
    // The root cause is the trap or the host function's error; the wasm
    // backtrace wasmtime wraps around it names only unnamed functions in a
    // stripped module, and would put line breaks into one-line answers.
    GuestError::Trap {
        during,
        message: error.root_cause().to_string(),
    }
}

/// `__guest_call: (i32, i32) -> i32` and a memory named `memory` (§1.1).
fn check_wapc_exports(module: &Module) -> Result<(), String> {
    match module.get_export("__guest_call") {
        Some(ExternType::Func(ty)) => {
            let params: Vec<ValType> = ty.params().collect();
            let results: Vec<ValType> = ty.results().collect();
            let ok = matches!(params.as_slice(), [ValType::I32, ValType::I32])
                && matches!(results.as_slice(), [ValType::I32]);
            if !ok {
                return Err(format!(
                    "its __guest_call export has type {ty}, expected (func (param i32 i32) (result i32))"
                ));
            }
        }
        Some(_) => return Err("its __guest_call export is not a function".into()),
        None => return Err("it does not export the function __guest_call".into()),
    }
    match module.get_export("memory") {
        Some(ExternType::Memory(_)) => Ok(()),
        _ => Err("it does not export a memory named \"memory\"".into()),
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn time_in_host_calls_is_not_the_guests() {
        let mut clock = GuestClock::new(Duration::from_millis(50));
        std::thread::sleep(Duration::from_millis(80));
        // 80 ms of wall time, all of it in the host: 50 ms still to go.
        clock.in_host = Duration::from_millis(80);
        assert!(
            matches!(clock.on_deadline(), UpdateDeadline::Continue(ticks) if ticks >= 2),
            "the guest has time left"
        );
        clock.in_host = Duration::ZERO;
        assert!(matches!(clock.on_deadline(), UpdateDeadline::Interrupt));
        clock.restart();
        assert!(matches!(clock.on_deadline(), UpdateDeadline::Continue(_)));
    }

    #[test]
    fn deadline_covers_the_whole_limit() {
        assert_eq!(deadline_ticks(Duration::from_secs(2)), 201);
        assert_eq!(deadline_ticks(Duration::from_millis(15)), 3);
        assert_eq!(deadline_ticks(Duration::ZERO), 1);
    }
}
