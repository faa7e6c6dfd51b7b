//! The waPC host protocol: the functions the policy imports from module `"wapc"`
//! (kubewarden-abi.md §1.2) and the per-call state they share.
//!
//! One call goes like this (§1.3): the host stores the operation name and the
//! payload in [`WapcState`], calls the guest's `__guest_call(op_len, msg_len)`;
//! the guest allocates two buffers and calls `__guest_request(op_ptr, msg_ptr)`,
//! which copies both in; the guest answers through `__guest_response(ptr, len)`
//! or `__guest_error(ptr, len)` and returns 1 (success) or 0 (failure). While it
//! runs, the guest may call the host with `__host_call(...)` and read the answer
//! with `__host_response_len`/`__host_response` (or `__host_error_len`/
//! `__host_error`).
//!
//! # Why this is written here and not taken from `wapc`/`wasmtime-provider`
//!
//! Every pointer and length in these functions comes from the guest, so the
//! host must treat them as untrusted input. `wasmtime-provider` (wapc-rs
//! `crates/wasmtime-provider/src/callbacks.rs`, `get_vec_from_memory`) slices
//! guest memory with `data[ptr..ptr + len]`: a guest that passes a range past
//! the end of its memory, or one whose `ptr + len` overflows, panics the host.
//! Here every access goes through [`read_guest`] / [`write_guest`], which
//! check the range against the memory's current size with checked arithmetic
//! and turn a bad range into a trap carrying a [`WapcError`] that names the
//! function, the range and the memory size. A broken or hostile policy can
//! fail its own evaluation; it cannot crash `imagegate`.
//!
//! The module is generic over the store data through [`WapcView`], so the
//! runtime decides where the state and the host capabilities live.

use std::fmt;

use wasmtime::{Caller, Extern, Linker, Memory};

/// The import module name of every waPC host function.
pub const HOST_MODULE: &str = "wapc";

/// The operation and payload of the guest call in progress.
#[derive(Debug, Default)]
struct Invocation {
    operation: Vec<u8>,
    payload: Vec<u8>,
}

/// Per-call waPC state: what the host is asking, and what each side answered.
#[derive(Debug, Default)]
pub struct WapcState {
    /// The guest's `memory` export, kept from the first host call of the
    /// instance (see [`memory`]).
    memory: Option<Memory>,
    invocation: Option<Invocation>,
    guest_response: Option<Vec<u8>>,
    guest_error: Option<String>,
    host_response: Option<Vec<u8>>,
    host_error: Option<String>,
}

impl WapcState {
    /// Starts a new guest call: clears every answer of the previous call and
    /// stores the operation and payload that `__guest_request` will copy in.
    pub fn begin(&mut self, operation: &str, payload: &[u8]) {
        *self = WapcState {
            memory: self.memory,
            invocation: Some(Invocation {
                operation: operation.as_bytes().to_vec(),
                payload: payload.to_vec(),
            }),
            ..WapcState::default()
        };
    }

    /// Ends the guest call, returning what the guest answered.
    pub fn finish(&mut self) -> GuestAnswer {
        let state = std::mem::replace(
            self,
            WapcState {
                memory: self.memory,
                ..WapcState::default()
            },
        );
        GuestAnswer {
            response: state.guest_response,
            error: state.guest_error,
        }
    }
}

/// What the guest handed back during one call.
#[derive(Debug, Default)]
pub struct GuestAnswer {
    /// Bytes passed to `__guest_response`, if it was called.
    pub response: Option<Vec<u8>>,
    /// Text passed to `__guest_error`, if it was called.
    pub error: Option<String>,
}

/// Access to the waPC state and the host side of `__host_call` and
/// `__console_log`, implemented by the store data.
pub trait WapcView: Send + 'static {
    /// The waPC state of this store.
    fn wapc(&mut self) -> &mut WapcState;

    /// Answers a `__host_call`: `Ok(bytes)` is a success (the guest sees 1),
    /// `Err(message)` a failure (the guest sees 0 and can read the message).
    fn host_call(
        &mut self,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, String>;

    /// Receives a `__console_log` line.
    fn console_log(&mut self, message: &str);
}

/// A waPC host function was called with arguments the host cannot honour.
/// Returned from the host function, it traps the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WapcError {
    /// The module exports no linear memory named `memory`.
    NoMemory { function: &'static str },
    /// `ptr..ptr+len` is not inside the guest's linear memory.
    OutOfBounds {
        function: &'static str,
        what: &'static str,
        ptr: u32,
        len: u64,
        memory_size: usize,
    },
    /// `__guest_request` was called when no guest call was in progress.
    NoInvocation,
    /// A length does not fit the i32 the ABI returns.
    TooLong { function: &'static str, len: usize },
}

impl fmt::Display for WapcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WapcError::NoMemory { function } => write!(
                f,
                "{function}: the policy exports no linear memory named \"memory\""
            ),
            WapcError::OutOfBounds {
                function,
                what,
                ptr,
                len,
                memory_size,
            } => write!(
                f,
                "{function}: {what} at {ptr:#x} with length {len} is outside the guest's \
                 linear memory ({memory_size} bytes)"
            ),
            WapcError::NoInvocation => {
                write!(
                    f,
                    "__guest_request: called while no guest call is in progress"
                )
            }
            WapcError::TooLong { function, len } => {
                write!(f, "{function}: {len} bytes do not fit in an i32 length")
            }
        }
    }
}

impl std::error::Error for WapcError {}

/// Adds the eight waPC host functions and `__console_log` to `linker`.
pub fn add_to_linker<T: WapcView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.func_wrap(
        HOST_MODULE,
        "__guest_request",
        |mut caller: Caller<'_, T>, op_ptr: i32, msg_ptr: i32| -> wasmtime::Result<()> {
            const F: &str = "__guest_request";
            let memory = memory(&mut caller, F)?;
            let Some(invocation) = caller.data_mut().wapc().invocation.take() else {
                return Err(WapcError::NoInvocation.into());
            };
            let written = write_guest(
                &mut caller,
                memory,
                F,
                "operation",
                op_ptr,
                &invocation.operation,
            )
            .and_then(|()| {
                write_guest(
                    &mut caller,
                    memory,
                    F,
                    "payload",
                    msg_ptr,
                    &invocation.payload,
                )
            });
            // Put it back: a guest may legitimately ask twice.
            caller.data_mut().wapc().invocation = Some(invocation);
            written.map_err(Into::into)
        },
    )?;

    linker.func_wrap(
        HOST_MODULE,
        "__guest_response",
        |mut caller: Caller<'_, T>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            const F: &str = "__guest_response";
            let memory = memory(&mut caller, F)?;
            let bytes = read_guest(&caller, memory, F, "response", ptr, len)?;
            caller.data_mut().wapc().guest_response = Some(bytes);
            Ok(())
        },
    )?;

    linker.func_wrap(
        HOST_MODULE,
        "__guest_error",
        |mut caller: Caller<'_, T>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            const F: &str = "__guest_error";
            let memory = memory(&mut caller, F)?;
            let bytes = read_guest(&caller, memory, F, "error message", ptr, len)?;
            caller.data_mut().wapc().guest_error =
                Some(String::from_utf8_lossy(&bytes).into_owned());
            Ok(())
        },
    )?;

    linker.func_wrap(
        HOST_MODULE,
        "__host_call",
        |mut caller: Caller<'_, T>,
         bd_ptr: i32,
         bd_len: i32,
         ns_ptr: i32,
         ns_len: i32,
         op_ptr: i32,
         op_len: i32,
         msg_ptr: i32,
         msg_len: i32|
         -> wasmtime::Result<i32> {
            const F: &str = "__host_call";
            let memory = memory(&mut caller, F)?;
            let binding = read_guest(&caller, memory, F, "binding", bd_ptr, bd_len)?;
            let namespace = read_guest(&caller, memory, F, "namespace", ns_ptr, ns_len)?;
            let operation = read_guest(&caller, memory, F, "operation", op_ptr, op_len)?;
            let payload = read_guest(&caller, memory, F, "payload", msg_ptr, msg_len)?;

            let result = match (
                String::from_utf8(binding),
                String::from_utf8(namespace),
                String::from_utf8(operation),
            ) {
                (Ok(b), Ok(n), Ok(o)) => caller.data_mut().host_call(&b, &n, &o, &payload),
                _ => Err("host call binding, namespace and operation must be UTF-8".to_owned()),
            };
            let state = caller.data_mut().wapc();
            match result {
                Ok(response) => {
                    state.host_response = Some(response);
                    state.host_error = None;
                    Ok(1)
                }
                Err(message) => {
                    state.host_response = None;
                    state.host_error = Some(message);
                    Ok(0)
                }
            }
        },
    )?;

    linker.func_wrap(
        HOST_MODULE,
        "__host_response_len",
        |mut caller: Caller<'_, T>| -> wasmtime::Result<i32> {
            let len = caller
                .data_mut()
                .wapc()
                .host_response
                .as_ref()
                .map_or(0, Vec::len);
            Ok(len_to_i32("__host_response_len", len)?)
        },
    )?;

    linker.func_wrap(
        HOST_MODULE,
        "__host_response",
        |mut caller: Caller<'_, T>, ptr: i32| -> wasmtime::Result<()> {
            const F: &str = "__host_response";
            let memory = memory(&mut caller, F)?;
            if let Some(response) = caller.data_mut().wapc().host_response.take() {
                let written = write_guest(&mut caller, memory, F, "host response", ptr, &response);
                caller.data_mut().wapc().host_response = Some(response);
                written?;
            }
            Ok(())
        },
    )?;

    linker.func_wrap(
        HOST_MODULE,
        "__host_error_len",
        |mut caller: Caller<'_, T>| -> wasmtime::Result<i32> {
            let len = caller
                .data_mut()
                .wapc()
                .host_error
                .as_ref()
                .map_or(0, String::len);
            Ok(len_to_i32("__host_error_len", len)?)
        },
    )?;

    linker.func_wrap(
        HOST_MODULE,
        "__host_error",
        |mut caller: Caller<'_, T>, ptr: i32| -> wasmtime::Result<()> {
            const F: &str = "__host_error";
            let memory = memory(&mut caller, F)?;
            if let Some(error) = caller.data_mut().wapc().host_error.take() {
                let written =
                    write_guest(&mut caller, memory, F, "host error", ptr, error.as_bytes());
                caller.data_mut().wapc().host_error = Some(error);
                written?;
            }
            Ok(())
        },
    )?;

    linker.func_wrap(
        HOST_MODULE,
        "__console_log",
        |mut caller: Caller<'_, T>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            const F: &str = "__console_log";
            let memory = memory(&mut caller, F)?;
            let bytes = read_guest(&caller, memory, F, "message", ptr, len)?;
            caller
                .data_mut()
                .console_log(&String::from_utf8_lossy(&bytes));
            Ok(())
        },
    )?;

    Ok(())
}

/// The guest's exported linear memory: the export named `memory`, as the
/// protocol says, looked up by name on the first host call of an instance
/// and kept in its [`WapcState`] after that.
fn memory<T: WapcView>(
    caller: &mut Caller<'_, T>,
    function: &'static str,
) -> Result<Memory, WapcError> {
    if let Some(memory) = caller.data_mut().wapc().memory {
        return Ok(memory);
    }
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => {
            caller.data_mut().wapc().memory = Some(memory);
            Ok(memory)
        }
        _ => Err(WapcError::NoMemory { function }),
    }
}

fn len_to_i32(function: &'static str, len: usize) -> Result<i32, WapcError> {
    i32::try_from(len).map_err(|_| WapcError::TooLong { function, len })
}

/// The byte range `ptr..ptr+len` of a memory of `memory_size` bytes, if it is
/// inside. `ptr` and `len` are wasm32 `i32`s that mean unsigned values.
fn guest_range(ptr: u32, len: u64, memory_size: usize) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(ptr).ok()?;
    let len = usize::try_from(len).ok()?;
    let end = start.checked_add(len)?;
    (end <= memory_size).then_some(start..end)
}

/// Copies `len` bytes at `ptr` out of the guest's memory, or fails with
/// [`WapcError::OutOfBounds`] without touching memory.
pub fn read_guest<T>(
    caller: &Caller<'_, T>,
    memory: Memory,
    function: &'static str,
    what: &'static str,
    ptr: i32,
    len: i32,
) -> Result<Vec<u8>, WapcError> {
    // wasm32 pointers and lengths are unsigned: reinterpret the bits.
    let ptr = ptr as u32;
    let len = u64::from(len as u32);
    let data = memory.data(caller);
    guest_range(ptr, len, data.len())
        .and_then(|range| data.get(range))
        .map(<[u8]>::to_vec)
        .ok_or(WapcError::OutOfBounds {
            function,
            what,
            ptr,
            len,
            memory_size: data.len(),
        })
}

/// Copies `bytes` into the guest's memory at `ptr`, or fails with
/// [`WapcError::OutOfBounds`] without touching memory.
pub fn write_guest<T>(
    caller: &mut Caller<'_, T>,
    memory: Memory,
    function: &'static str,
    what: &'static str,
    ptr: i32,
    bytes: &[u8],
) -> Result<(), WapcError> {
    let ptr = ptr as u32;
    let len = bytes.len() as u64;
    let data = memory.data_mut(caller);
    let memory_size = data.len();
    match guest_range(ptr, len, memory_size).and_then(|range| data.get_mut(range)) {
        Some(target) => {
            target.copy_from_slice(bytes);
            Ok(())
        }
        None => Err(WapcError::OutOfBounds {
            function,
            what,
            ptr,
            len,
            memory_size,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_inside_memory() {
        assert_eq!(guest_range(0, 0, 0), Some(0..0));
        assert_eq!(guest_range(10, 6, 16), Some(10..16));
        assert_eq!(guest_range(16, 0, 16), Some(16..16));
    }

    #[test]
    fn range_past_the_end_or_overflowing_is_refused() {
        assert_eq!(guest_range(10, 7, 16), None);
        assert_eq!(guest_range(17, 0, 16), None);
        assert_eq!(guest_range(u32::MAX, u64::from(u32::MAX), 65536), None);
        assert_eq!(guest_range(u32::MAX, u64::MAX, usize::MAX), None);
    }

    #[test]
    fn begin_clears_previous_answers() {
        let mut state = WapcState {
            guest_response: Some(b"old".to_vec()),
            guest_error: Some("old".into()),
            host_response: Some(b"old".to_vec()),
            host_error: Some("old".into()),
            invocation: None,
            memory: None,
        };
        state.begin("validate", b"{}");
        assert!(state.guest_response.is_none() && state.guest_error.is_none());
        assert!(state.host_response.is_none() && state.host_error.is_none());
        let answer = state.finish();
        assert!(answer.response.is_none() && answer.error.is_none());
        assert!(state.invocation.is_none());
    }
}
